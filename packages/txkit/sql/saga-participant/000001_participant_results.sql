-- Outputs of the saga steps a remote participant applied, written in the same local transaction as the
-- business write and its barrier row: a re-delivered command (its reply was lost, the runner retried) is
-- answered with the output of the first run instead of running again.
-- IF NOT EXISTS: databases migrated before txkit 0.2 created this table as version 2 of the outbox component.
CREATE TABLE IF NOT EXISTS :SCHEMA.participant_results (
  saga_id text NOT NULL,
  step text NOT NULL,
  output jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (saga_id, step)
);

CREATE INDEX IF NOT EXISTS participant_results_created_at_idx ON :SCHEMA.participant_results (created_at);
