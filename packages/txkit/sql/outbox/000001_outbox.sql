-- Transactional outbox: events written in the same local transaction as the business change, published later
-- by a relay. A row is pending while sent_at is null.
CREATE TABLE :SCHEMA.outbox (
  id bigserial PRIMARY KEY,
  message_id uuid NOT NULL UNIQUE,
  topic text NOT NULL,
  -- Ordering key: rows of one key are published in id order; null means no ordering constraint.
  key text,
  payload jsonb NOT NULL,
  headers jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz
);

-- The relay's claim scans pending rows in id order; this index stays small as sent rows leave it.
CREATE INDEX outbox_pending_idx ON :SCHEMA.outbox (id) WHERE sent_at IS NULL;

-- The relay's per-key gap check looks up the first pending row of a key.
CREATE INDEX outbox_pending_key_idx ON :SCHEMA.outbox (key, id) WHERE sent_at IS NULL AND key IS NOT NULL;

-- Retention cleanup deletes sent rows by age.
CREATE INDEX outbox_sent_at_idx ON :SCHEMA.outbox (sent_at) WHERE sent_at IS NOT NULL;

-- Inbox: message ids a consumer has applied, recorded in the consumer's own transaction, so a redelivered
-- message is recognised and skipped even after a restart.
CREATE TABLE :SCHEMA.inbox (
  consumer text NOT NULL,
  message_id text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);

CREATE INDEX inbox_processed_at_idx ON :SCHEMA.inbox (processed_at);
