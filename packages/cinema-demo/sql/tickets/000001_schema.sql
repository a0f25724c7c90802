-- Tickets database: one ticket per booked seat, with a code shown at the door.
CREATE TABLE :SCHEMA.tickets (
  id bigserial PRIMARY KEY,
  booking_id uuid NOT NULL,
  screening_id integer NOT NULL,
  seat_id integer NOT NULL,
  code text NOT NULL UNIQUE,
  status text NOT NULL CHECK (status IN ('valid', 'void')),
  created_at timestamptz NOT NULL DEFAULT now(),
  voided_at timestamptz,
  UNIQUE (booking_id, seat_id)
);
