-- The timing of each booking's and cancellation's transaction (bars per database, see booking-waterfall.ts),
-- written in batches off the booking's path by the waterfall store; read when a customer opens a timeline.
CREATE TABLE :SCHEMA.booking_waterfalls (
  booking_id uuid NOT NULL,
  run text NOT NULL CHECK (run IN ('booking', 'cancellation')),
  protocol text NOT NULL CHECK (protocol IN ('saga', '2pc')),
  started_at timestamptz NOT NULL,
  total_ms double precision NOT NULL CHECK (total_ms >= 0),
  outcome text NOT NULL,
  bars jsonb NOT NULL,
  PRIMARY KEY (booking_id, run)
);
