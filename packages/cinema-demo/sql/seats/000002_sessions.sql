-- Server-side sessions, shared by every API instance: sign-out revokes one, and expiry is checked here, so a
-- token stops working the moment either happens. Only a SHA-256 of the token is kept: a copy of this table
-- does not let anyone act as a customer.
CREATE TABLE :SCHEMA.sessions (
  token_hash bytea PRIMARY KEY,
  customer_id integer NOT NULL,
  -- Sent back in the X-CSRF-Token header by the browser on every state-changing request made with the cookie.
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX sessions_by_customer ON :SCHEMA.sessions (customer_id, expires_at);
