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
 * Planner settings for the claim's transaction. The claim's key try-lock must only be evaluated on the rows the
 * claim takes, which holds when the rows are read in id order from an index and the scan stops at the LIMIT.
 * On a small table the planner prefers a sequential scan and a sort, which evaluates the filter, and takes a
 * key lock, for every pending row: one relay would then hold every key and the others would find nothing.
 */
export function claimPlanSettings(): Statement {
  return {
    text: 'SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off',
    values: [],
  };
}

/**
 * Claims up to `limit` pending rows, oldest first, locked until the claiming transaction ends.
 *
 * Several relays: SKIP LOCKED keeps them off each other's rows, and a transaction-scoped advisory lock per key
 * keeps them off each other's keys: while relay A holds rows of key k, relay B fails k's try-lock and takes rows
 * of other keys instead of claiming rows of k that it could not publish yet. The try-lock is evaluated row by
 * row during the scan, so it alone does not guarantee order (see {@link firstUnclaimedByKey}, which does).
 * Hash collisions between keys only serialise them.
 */
export function claimPending(schema: string, schemaName: string, limit: number): Statement {
  return {
    text: `SELECT id, message_id, topic, key, payload, headers, created_at
             FROM ${schema}.outbox
            WHERE sent_at IS NULL
              AND (key IS NULL OR pg_try_advisory_xact_lock(hashtext('txkit.outbox:' || $2), hashtext(key)))
            ORDER BY id
            LIMIT $1
              FOR UPDATE SKIP LOCKED`,
    values: [limit, schemaName],
  };
}

/**
 * For the keys of a claim, the first pending row of each that the claim does not hold. This is what keeps per-key
 * order: a claimed row of key k is published only if no earlier row of k is pending outside the claim (held by
 * a relay that has not committed, or skipped by this claim's scan when k's try-lock failed at row 45 and then
 * succeeded at row 46 because the other relay committed in between). Rows from such a gap on wait for the next
 * pass. It reads committed state after the claim: an earlier row marked sent was confirmed by the broker before
 * that commit, so publishing the later rows now cannot overtake it.
 */
export function firstUnclaimedByKey(
  schema: string,
  keys: readonly string[],
  claimedIds: readonly string[],
): Statement {
  return {
    text: `SELECT key, min(id)::text AS id FROM ${schema}.outbox
            WHERE sent_at IS NULL AND key = ANY($1::text[]) AND NOT (id = ANY($2::bigint[]))
            GROUP BY key`,
    values: [keys, claimedIds],
  };
}

export function markSent(schema: string, ids: readonly string[]): Statement {
  return {
    text: `UPDATE ${schema}.outbox SET sent_at = now() WHERE id = ANY($1::bigint[])`,
    values: [ids],
  };
}

/** Deletes up to `limit` rows sent more than `retentionMs` ago. */
export function deleteSent(schema: string, retentionMs: number, limit: number): Statement {
  return {
    text: `DELETE FROM ${schema}.outbox
            WHERE id IN (SELECT id FROM ${schema}.outbox
                          WHERE sent_at < now() - $1 * interval '1 millisecond'
                          ORDER BY sent_at LIMIT $2)`,
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
