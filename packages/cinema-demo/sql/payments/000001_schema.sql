-- Payments database: customers, their wallets and the payments taken for bookings.
CREATE TABLE :SCHEMA.customers (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  balance_cents bigint NOT NULL CHECK (balance_cents >= 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- At most one payment per booking: a re-run charge finds it instead of taking the money twice.
CREATE TABLE :SCHEMA.payments (
  id bigserial PRIMARY KEY,
  booking_id uuid NOT NULL UNIQUE,
  customer_id integer NOT NULL REFERENCES :SCHEMA.customers (id),
  amount_cents integer NOT NULL CHECK (amount_cents > 0),
  status text NOT NULL CHECK (status IN ('captured', 'refunded')),
  created_at timestamptz NOT NULL DEFAULT now(),
  refunded_at timestamptz
);
