-- A guarded step's output, kept in its action's barrier row: the row is the step's record (it commits with the
-- step's write, in the step's own database), so a re-run after a crash finds its first output here.
ALTER TABLE :SCHEMA.barrier ADD COLUMN output jsonb;
