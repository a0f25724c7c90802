-- The foreign key from saga_step to saga cost every record insert a trigger and a row lock on its saga row (a
-- third of the saga's insert on the hot path). Records are only ever inserted by statements that select their
-- saga from a fenced write of that very row, so they cannot point at a missing saga; cleanup deletes a finished
-- saga's records with it, in the same statement, instead of by cascade.
ALTER TABLE :SCHEMA.saga_step DROP CONSTRAINT IF EXISTS saga_step_saga_id_fkey;
