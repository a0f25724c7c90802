-- Outputs of the saga steps a remote participant applied, written in the same local transaction as the
-- business write and its barrier row: a re-delivered command (its reply was lost, the runner retried) is
-- answered with the output of the first run instead of running again.
CREATE TABLE :SCHEMA.participant_results (
  saga_id text NOT NULL,
  step text NOT NULL,
  output jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (saga_id, step)
);

CREATE INDEX participant_results_created_at_idx ON :SCHEMA.participant_results (created_at);
