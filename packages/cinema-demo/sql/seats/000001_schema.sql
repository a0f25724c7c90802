-- Seats database: what is shown where, and who holds which seat.
CREATE TABLE :SCHEMA.movies (
  id serial PRIMARY KEY,
  title text NOT NULL,
  duration_minutes integer NOT NULL CHECK (duration_minutes > 0)
);

CREATE TABLE :SCHEMA.rooms (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  row_count integer NOT NULL CHECK (row_count BETWEEN 1 AND 50),
  places_per_row integer NOT NULL CHECK (places_per_row BETWEEN 1 AND 60)
);

-- Physical seats of a room; a seat id is global, so "seat not in that room" is a lookup.
CREATE TABLE :SCHEMA.seats (
  id serial PRIMARY KEY,
  room_id integer NOT NULL REFERENCES :SCHEMA.rooms (id),
  row_number integer NOT NULL,
  place integer NOT NULL,
  UNIQUE (room_id, row_number, place)
);

CREATE TABLE :SCHEMA.screenings (
  id serial PRIMARY KEY,
  movie_id integer NOT NULL REFERENCES :SCHEMA.movies (id),
  room_id integer NOT NULL REFERENCES :SCHEMA.rooms (id),
  starts_at timestamptz NOT NULL,
  price_cents integer NOT NULL CHECK (price_cents > 0)
);

-- Every seat's state per screening, one row each: bookings lock exactly the rows of the seats they want
-- (SELECT ... FOR UPDATE), never the screening, so bookings of different seats do not wait for each other.
-- version comes from one sequence, taken while the row is locked: for one seat, versions grow in commit order,
-- which is what lets the read model drop stale updates.
CREATE SEQUENCE :SCHEMA.seat_version;
CREATE TABLE :SCHEMA.screening_seats (
  screening_id integer NOT NULL REFERENCES :SCHEMA.screenings (id),
  seat_id integer NOT NULL REFERENCES :SCHEMA.seats (id),
  status text NOT NULL DEFAULT 'free' CHECK (status IN ('free', 'sold')),
  booking_id uuid,
  version bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (screening_id, seat_id),
  CHECK ((status = 'free') = (booking_id IS NULL))
);

-- Customers are mastered in the payments database (wallets); the booking keeps the id it was made for.
CREATE TABLE :SCHEMA.bookings (
  id uuid PRIMARY KEY,
  customer_id integer NOT NULL,
  idempotency_key text NOT NULL,
  request_hash text NOT NULL,
  screening_id integer NOT NULL REFERENCES :SCHEMA.screenings (id),
  seat_ids integer[] NOT NULL,
  mode text NOT NULL CHECK (mode IN ('saga', '2pc')),
  amount_cents integer NOT NULL CHECK (amount_cents > 0),
  status text NOT NULL CHECK (status IN ('pending', 'confirmed', 'rejected', 'cancelling', 'cancelled')),
  reason text,
  message text,
  ticket_codes text[],
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- The idempotency key is per customer: a retry finds the first attempt's row and returns its outcome.
  UNIQUE (customer_id, idempotency_key)
);
CREATE INDEX bookings_customer_created ON :SCHEMA.bookings (customer_id, created_at DESC);

-- The database's own guarantee that a seat is sold at most once per screening, whatever the code above does:
-- one live row per (screening, seat); a released seat keeps its history with released_at set.
CREATE TABLE :SCHEMA.booking_seats (
  booking_id uuid NOT NULL REFERENCES :SCHEMA.bookings (id),
  screening_id integer NOT NULL,
  seat_id integer NOT NULL,
  released_at timestamptz,
  PRIMARY KEY (booking_id, seat_id)
);
CREATE UNIQUE INDEX booking_seats_sold_once ON :SCHEMA.booking_seats (screening_id, seat_id)
  WHERE released_at IS NULL;

-- Fixed-window counters for per-customer limits, shared by every API instance.
CREATE TABLE :SCHEMA.rate_limits (
  key text NOT NULL,
  window_start timestamptz NOT NULL,
  hits integer NOT NULL,
  PRIMARY KEY (key, window_start)
);
