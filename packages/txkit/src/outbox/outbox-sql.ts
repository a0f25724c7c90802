/**
 * Every statement the outbox and the inbox run, in one place. `schema` is a quoted schema name
 * (see `quoteSchema`); everything else is a bind parameter.
 */
import type { Statement } from '../db/queryable.js';

/** The LISTEN/NOTIFY channel; the payload is the schema name, so relays of other schemas ignore it. */
export const OUTBOX_CHANNEL = 'txkit_outbox';

/** A pending outbox row as the relay claims it. */
export interface OutboxRow {
  id: string;
  message_id: string;
  topic: string;
  key: string | null;
  payload: unknown;
  headers: Record<string, string>;
  created_at: Date;
}

export function insertMessage(
  schema: string,
  row: { messageId: string; topic: string; key: string | null; payload: unknown; headers: object },
): Statement {
  return {
    text: `INSERT INTO ${schema}.outbox (message_id, topic, key, payload, headers)
           VALUES ($1, $2, $3, $4, $5) RETURNING id`,
    values: [row.messageId, row.topic, row.key, JSON.stringify(row.payload), JSON.stringify(row.headers)],
  };
}

export function notifyRelays(schemaName: string): Statement {
  return { text: 'SELECT pg_notify($1, $2)', values: [OUTBOX_CHANNEL, schemaName] };
}

/**
 * A relay's claim, in one statement: the keys of the oldest `window` pending rows that no other relay holds, each
 * taken with a transaction-scoped advisory lock (try-lock: a key held by another relay is skipped, not waited
 * for), then up to `limit` pending rows, oldest first, of those keys or without a key, locked until the
 * transaction ends (SKIP LOCKED keeps relays off each other's keyless rows).
 *
 * Per-key order rests on the key lock: only the holder of key k publishes rows of k, and it holds k until its
 * transaction (publish, confirms, mark sent) commits. The keys are locked before any row is read — `locked` is
 * materialized and only its result feeds the row scan — so the scan starts at k's oldest pending row, whoever had
 * k before. A row the previous holder of k marked sent after this statement's snapshot still looks pending in it,
 * but `FOR UPDATE` re-reads a row changed since the snapshot and re-checks `sent_at IS NULL` against its newest
 * version (READ COMMITTED), so it is dropped, not published again. (Trying the lock row by row inside the scan
 * would not do: a relay that skipped row 45 of k while k was held could get k at row 46 once the holder
 * committed, and publish 46 before 45.) Hash collisions between keys only serialise them.
 */
export function claimBatch(schema: string, schemaName: string, window: number, limit: number): Statement {
  return {
    text: `WITH locked AS MATERIALIZED (
             SELECT k.key
               FROM (SELECT DISTINCT w.key
                       FROM (SELECT key FROM ${schema}.outbox
                              WHERE sent_at IS NULL AND key IS NOT NULL
                              ORDER BY id LIMIT $1) AS w) AS k
              WHERE pg_try_advisory_xact_lock(hashtext('txkit.outbox:' || $2), hashtext(k.key)))
           SELECT id, message_id, topic, key, payload, headers, created_at
             FROM ${schema}.outbox
            WHERE sent_at IS NULL AND (key IS NULL OR key = ANY(ARRAY(SELECT key FROM locked)))
            ORDER BY id
            LIMIT $3
              FOR UPDATE SKIP LOCKED`,
    values: [window, schemaName, limit],
  };
}

/**
 * Marks a published batch sent, and lets the relay's COMMIT skip the WAL flush (`synchronous_commit` is read at
 * commit, so setting it here, for this transaction only, does what a `SET LOCAL` after BEGIN would, without a
 * statement of its own; a claim that found nothing writes nothing and has no flush to skip). Losing a mark-sent
 * in a database crash only makes those rows pending again, and they are re-published: a duplicate, which
 * at-least-once delivery already allows, never a loss.
 */
export function markSent(schema: string, ids: readonly string[]): Statement {
  return {
    text: `WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
           UPDATE ${schema}.outbox SET sent_at = now() FROM relaxed WHERE id = ANY($1::bigint[])`,
    values: [ids],
  };
}

/**
 * Deletes up to `limit` rows sent more than `retentionMs` ago, oldest ids first. The scan walks the primary key
 * from its start, where the old sent rows are, so it needs no index on `sent_at` (which would cost every
 * mark-sent an index insert).
 */
export function deleteSent(schema: string, retentionMs: number, limit: number): Statement {
  return {
    text: `DELETE FROM ${schema}.outbox
            WHERE id IN (SELECT id FROM ${schema}.outbox
                          WHERE sent_at < now() - $1 * interval '1 millisecond'
                          ORDER BY id LIMIT $2)`,
    values: [retentionMs, limit],
  };
}

export function countPending(schema: string): Statement {
  return { text: `SELECT count(*)::int AS pending FROM ${schema}.outbox WHERE sent_at IS NULL`, values: [] };
}

/** Records that `consumer` applied `messageId`; inserts nothing (rowCount 0) for a duplicate. */
export function insertInboxMessage(schema: string, consumer: string, messageId: string): Statement {
  return {
    text: `INSERT INTO ${schema}.inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
    values: [consumer, messageId],
  };
}

/** Deletes up to `limit` inbox rows older than `retentionMs`. */
export function deleteInbox(schema: string, retentionMs: number, limit: number): Statement {
  return {
    text: `DELETE FROM ${schema}.inbox
            WHERE (consumer, message_id) IN (SELECT consumer, message_id FROM ${schema}.inbox
                                              WHERE processed_at < now() - $1 * interval '1 millisecond'
                                              LIMIT $2)`,
    values: [retentionMs, limit],
  };
}
