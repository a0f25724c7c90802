-- The saga log: one row per saga, one row per finished step action or compensation.
-- A crash at any point leaves enough here for any runner to drive the saga on (see src/saga/saga-log.ts).
CREATE TABLE :SCHEMA.saga (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  -- Idempotency key, unique per saga name: a second run with the same key returns the first run's outcome.
  key text,
  input jsonb NOT NULL,
  -- running -> completed | compensating -> compensated | failed
  status text NOT NULL CHECK (status IN ('running', 'compensating', 'completed', 'compensated', 'failed')),
  -- Index of the next step whose action has not been recorded (running), or the step being compensated.
  step integer NOT NULL DEFAULT 0,
  -- The runner driving the saga (for people) and the fencing token of its claim (for writes).
  owner text NOT NULL,
  lease_token uuid NOT NULL,
  lease_until timestamptz NOT NULL,
  -- How often the saga was claimed by recovery; a saga that keeps killing its runner is given up on.
  claims integer NOT NULL DEFAULT 0,
  -- Why the saga is compensating: the failed step, a stable reason and the error (forward failure).
  failed_step text,
  reason text,
  error jsonb,
  -- Why a compensation gave up (status failed): the step and its error.
  failed_compensation text,
  compensation_error jsonb,
  result jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);

CREATE UNIQUE INDEX saga_name_key ON :SCHEMA.saga (name, key) WHERE key IS NOT NULL;
-- Recovery looks only at unfinished sagas, ordered by lease expiry.
CREATE INDEX saga_unfinished_lease ON :SCHEMA.saga (lease_until) WHERE status IN ('running', 'compensating');
CREATE INDEX saga_failed ON :SCHEMA.saga (updated_at) WHERE status = 'failed';
CREATE INDEX saga_finished ON :SCHEMA.saga (finished_at) WHERE finished_at IS NOT NULL;

-- A finished action (done, with its output) or compensation (done), or the failure that ended one: the action
-- that sent the saga into compensation, or the compensation that gave up (status failed, with the error).
CREATE TABLE :SCHEMA.saga_step (
  saga_id uuid NOT NULL REFERENCES :SCHEMA.saga (id) ON DELETE CASCADE,
  step text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('action', 'compensation')),
  status text NOT NULL CHECK (status IN ('done', 'failed')),
  attempt integer NOT NULL,
  output jsonb,
  error jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (saga_id, step, kind)
);
