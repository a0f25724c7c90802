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
 * Starts a relay transaction whose commit does not wait for the WAL flush. Losing a mark-sent in a database
 * crash only makes those rows pending again, and they are re-published: a duplicate, which at-least-once
 * delivery already allows, never a loss. This takes the fsync out of every batch.
 */
export function beginRelayTransaction(): Statement {
  return { text: 'BEGIN; SET LOCAL synchronous_commit = off', values: [] };
}

/**
 * Step 1 of a claim: takes the keys of the oldest `window` pending rows that no other relay holds, with a
 * transaction-scoped advisory lock per key (try-lock: a key held by another relay is skipped, not waited for).
 *
 * Per-key order rests on this lock: only the holder of key k publishes rows of k, and it holds k until its
 * transaction (publish, confirms, mark sent) commits. The keys are locked in a statement of their own, before
 * the rows are read, so the claim that follows sees every row of k committed before the lock was granted: it
 * starts at k's oldest pending row, whoever had k before. (Trying the lock row by row inside the claim's scan
 * would not do: a relay that skipped row 45 of k while k was held could get k at row 46 once the holder
 * committed, and publish 46 before 45.) Hash collisions between keys only serialise them.
 */
export function lockFreeKeys(schema: string, schemaName: string, window: number): Statement {
  return {
    text: `SELECT k.key
             FROM (SELECT DISTINCT w.key
                     FROM (SELECT key FROM ${schema}.outbox
                            WHERE sent_at IS NULL AND key IS NOT NULL
                            ORDER BY id LIMIT $1) AS w) AS k
            WHERE pg_try_advisory_xact_lock(hashtext('txkit.outbox:' || $2), hashtext(k.key))`,
    values: [window, schemaName],
  };
}

/**
 * Step 2 of a claim: up to `limit` pending rows, oldest first, of the keys this transaction locked or without
 * a key, locked until the transaction ends (SKIP LOCKED keeps relays off each other's keyless rows).
 */
export function claimPending(schema: string, lockedKeys: readonly string[], limit: number): Statement {
  return {
    text: `SELECT id, message_id, topic, key, payload, headers, created_at
             FROM ${schema}.outbox
            WHERE sent_at IS NULL AND (key IS NULL OR key = ANY($1::text[]))
            ORDER BY id
            LIMIT $2
              FOR UPDATE SKIP LOCKED`,
    values: [lockedKeys, limit],
  };
}

export function markSent(schema: string, ids: readonly string[]): Statement {
  return {
    text: `UPDATE ${schema}.outbox SET sent_at = now() WHERE id = ANY($1::bigint[])`,
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
