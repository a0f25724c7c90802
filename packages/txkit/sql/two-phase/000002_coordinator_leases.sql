-- Liveness of the coordinators that share this decision log: one row per coordinator id, with a lease its
-- recovery service keeps renewing. Instance ids change on every restart (containers, pods), so a crashed
-- coordinator's id never comes back; the recovery of any live coordinator takes over the prepared branches of
-- every id whose lease expired here. An id with no row here is not known to use this log, and is left alone:
-- its decisions may live elsewhere, so a fenced abort in this log would not fence it.
CREATE TABLE IF NOT EXISTS :SCHEMA.two_phase_coordinators (
  coordinator_id text PRIMARY KEY,
  lease_until timestamptz NOT NULL,
  -- The coordinator's own prepare timeout: a taker never aborts its undecided branches before it has passed.
  prepare_timeout_ms integer NOT NULL,
  -- Where it runs (host and pid), for the operator reading this table.
  process text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  renewed_at timestamptz NOT NULL DEFAULT now()
);
