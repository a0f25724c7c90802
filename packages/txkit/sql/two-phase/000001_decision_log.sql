-- The two-phase commit decision log. One row per transaction that reached a decision (or was fenced off by
-- recovery). Presumed abort: no row means abort, so only commit decisions are written on the normal path.
-- The primary key is the fence: the coordinator's 'commit' insert and recovery's 'abort' insert race on it and
-- whichever lands first decides.
CREATE TABLE IF NOT EXISTS :SCHEMA.two_phase_decisions (
  transaction_id text PRIMARY KEY,
  coordinator_id text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('commit', 'abort')),
  participants text[] NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Retention cleanup scans by age, per coordinator.
CREATE INDEX IF NOT EXISTS two_phase_decisions_coordinator_created_at
  ON :SCHEMA.two_phase_decisions (coordinator_id, created_at);
