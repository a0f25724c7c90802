-- The sub-transaction barrier of a saga participant (DTM's design, for PostgreSQL). One row per
-- (saga, step, op): the primary key makes each of action and compensation take effect at most once, and a
-- compensation also inserts the 'action' row so that an action arriving after it is refused.
CREATE TABLE :SCHEMA.barrier (
  saga_id text NOT NULL,
  step text NOT NULL,
  op text NOT NULL CHECK (op IN ('action', 'compensate')),
  -- Which operation inserted the row: an 'action' row inserted by 'compensate' marks a null compensation.
  inserted_by text NOT NULL CHECK (inserted_by IN ('action', 'compensate')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (saga_id, step, op)
);

CREATE INDEX barrier_created_at ON :SCHEMA.barrier (created_at);
