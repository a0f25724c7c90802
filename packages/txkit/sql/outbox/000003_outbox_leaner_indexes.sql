-- Every index of the outbox costs each enqueue or each mark-sent an index insert. Retention cleanup walks the
-- primary key from the oldest rows instead of an index on sent_at, and the relay's claim reads pending rows
-- through outbox_pending_idx and filters them by its locked keys, so these two go.
DROP INDEX IF EXISTS :SCHEMA.outbox_sent_at_idx;
DROP INDEX IF EXISTS :SCHEMA.outbox_pending_key_idx;
