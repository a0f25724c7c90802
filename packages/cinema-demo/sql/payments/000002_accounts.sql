-- Accounts: the secret that lets a customer act as themselves. Apart from the wallet row, so that signing in
-- (or setting the demo passwords at start-up) never waits for a lock a booking holds on the wallet.
CREATE TABLE :SCHEMA.accounts (
  customer_id integer PRIMARY KEY REFERENCES :SCHEMA.customers (id),
  -- Stored lower-cased: one account per address, whatever the case it is typed in.
  email text NOT NULL UNIQUE CHECK (email = lower(email)),
  -- An argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash); never the password.
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Every top-up of a wallet: money that enters the system from outside. A conservation audit counts
-- wallets + captured payments - top-ups, which stays constant while bookings only move money around.
CREATE TABLE :SCHEMA.top_ups (
  id bigserial PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES :SCHEMA.customers (id),
  amount_cents integer NOT NULL CHECK (amount_cents > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX top_ups_by_customer ON :SCHEMA.top_ups (customer_id, created_at);
