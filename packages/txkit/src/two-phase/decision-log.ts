import { inlineStatement } from '../db/inline-statement.js';
import type { Statement } from '../db/queryable.js';
import { quoteSchema } from '../db/schema-name.js';

/**
 * All the SQL of the two-phase decision log (`<schema>.two_phase_decisions`), as small functions returning
 * statements. Whoever asks "what does 2PC write?" reads this file.
 */

/**
 * A decision: 'commit' is written by the coordinator, 'abort' only by recovery's fence (presumed abort).
 *
 * @example
 * const outcome: TwoPhaseOutcome = 'commit';
 */
export type Outcome = 'commit' | 'abort';

const table = (schema: string) => `${quoteSchema(schema)}.two_phase_decisions`;
const leases = (schema: string) => `${quoteSchema(schema)}.two_phase_coordinators`;

/**
 * A decision row, fenced: `ON CONFLICT DO NOTHING RETURNING` makes the insert one side of the fence between the
 * coordinator (outcome `commit`) and recovery or an unsure coordinator (`abort`). No row back means the other
 * side's decision landed first and must be obeyed. When a concurrent insert of the same key is in flight,
 * PostgreSQL makes this one wait for it, so the two never both win.
 */
export function insertDecision(
  schema: string,
  outcome: Outcome,
  transactionId: string,
  coordinatorId: string,
  participants: readonly string[],
): Statement {
  const insert = plainDecisionInsert(schema, outcome, transactionId, coordinatorId, participants);
  return { ...insert, text: `${insert.text} ON CONFLICT (transaction_id) DO NOTHING RETURNING outcome` };
}

/**
 * The commit decision as literal SQL followed by `COMMIT`, sent as one simple-query string (one round trip)
 * inside the log participant's own transaction. It is a plain INSERT on purpose: if recovery's abort row is
 * already there, the unique violation aborts the transaction, so the COMMIT after it never runs and the
 * participant's work is rolled back with it. All pieces are validated ids, and are escaped anyway.
 */
export function commitDecisionAndCommitSql(
  schema: string,
  transactionId: string,
  coordinatorId: string,
  participants: readonly string[],
): string {
  return `${inlineStatement(plainDecisionInsert(schema, 'commit', transactionId, coordinatorId, participants))};
          COMMIT`;
}

function plainDecisionInsert(
  schema: string,
  outcome: Outcome,
  transactionId: string,
  coordinatorId: string,
  participants: readonly string[],
): Statement {
  return {
    text: decisionInsertText(schema),
    values: [transactionId, coordinatorId, outcome, participants],
  };
}

/**
 * The decision insert's text for a schema, built once: one is written per transaction, and the same string each
 * time lets `inlineStatement` find its template without reading the text again (a string's hash is kept on it).
 */
function decisionInsertText(schema: string): string {
  let text = decisionInsertTexts.get(schema);
  if (text === undefined) {
    text = `INSERT INTO ${table(schema)} (transaction_id, coordinator_id, outcome, participants)
           VALUES ($1, $2, $3, $4::text[])`;
    decisionInsertTexts.set(schema, text);
  }
  return text;
}

/** By schema; a process has one or a few (schema names are validated identifiers). */
const decisionInsertTexts = new Map<string, string>();

/** The decisions recorded for some transactions (absent ones are undecided: presumed abort). */
export function selectOutcomes(schema: string, transactionIds: readonly string[]): Statement {
  return {
    text: `SELECT transaction_id, outcome FROM ${table(schema)} WHERE transaction_id = ANY($1::text[])`,
    values: [transactionIds],
  };
}

/**
 * Retention cleanup: deletes decisions older than the retention period, except those of transactions that
 * still have a prepared branch somewhere (`keep`). Deleting a commit row whose branch is still prepared would
 * turn it into a presumed abort of a committed transaction; deleting an abort row is always safe for the
 * outcome, and the retention (much longer than the prepare timeout) keeps a very late coordinator fenced off.
 *
 * Only rows of this coordinator and of the dead ones (lease expired) are deleted, and only rows whose
 * participants are all among `participants`: `keep` comes from a scan of those participants, so it says
 * nothing about branches on databases this recoverer cannot see.
 */
export function deleteExpiredDecisions(
  schema: string,
  coordinatorId: string,
  retentionMs: number,
  keep: readonly string[],
  participants: readonly string[],
): Statement {
  return {
    text: `DELETE FROM ${table(schema)}
            WHERE transaction_id IN (
              SELECT transaction_id FROM ${table(schema)}
               WHERE (coordinator_id = $1 OR coordinator_id IN (
                       SELECT coordinator_id FROM ${leases(schema)} WHERE lease_until <= now()))
                 AND created_at < now() - make_interval(secs => $2::double precision / 1000)
                 AND NOT (transaction_id = ANY($3::text[]))
                 AND participants <@ $4::text[]
               LIMIT 10000)`,
    values: [coordinatorId, retentionMs, keep, participants],
  };
}

/**
 * Registers or renews a coordinator's lease: it is alive until `now() + leaseMs` by the log server's clock (one
 * clock for every coordinator, so no skew between them). A coordinator whose lease was taken over may renew it
 * again: the fence already made every transaction the taker aborted an abort for it too.
 */
export function renewLease(
  schema: string,
  lease: { coordinatorId: string; leaseMs: number; prepareTimeoutMs: number; process: string },
): Statement {
  return {
    text: `INSERT INTO ${leases(schema)} (coordinator_id, lease_until, prepare_timeout_ms, process)
           VALUES ($1, now() + make_interval(secs => $2::double precision / 1000), $3, $4)
           ON CONFLICT (coordinator_id) DO UPDATE
             SET lease_until = EXCLUDED.lease_until, prepare_timeout_ms = EXCLUDED.prepare_timeout_ms,
                 process = EXCLUDED.process, renewed_at = now()`,
    values: [lease.coordinatorId, lease.leaseMs, lease.prepareTimeoutMs, lease.process],
  };
}

/** A clean shutdown ends the lease at once, so that the others take over what is left without waiting. */
export function releaseLease(schema: string, coordinatorId: string): Statement {
  return {
    text: `UPDATE ${leases(schema)} SET lease_until = now() WHERE coordinator_id = $1 AND lease_until > now()`,
    values: [coordinatorId],
  };
}

/**
 * The leases of some coordinators: whether each has expired, and its prepare timeout. An id with no row is not
 * known to use this log.
 */
export function selectLeases(schema: string, coordinatorIds: readonly string[]): Statement {
  return {
    text: `SELECT coordinator_id, lease_until <= now() AS expired, prepare_timeout_ms
             FROM ${leases(schema)} WHERE coordinator_id = ANY($1::text[])`,
    values: [coordinatorIds],
  };
}

/**
 * Every coordinator known to this log, for operators (`txkit status`): alive or not, and for how long.
 * `lease_ms` is the time left on the lease, negative once it has expired.
 */
export function selectCoordinators(schema: string): Statement {
  return {
    text: `SELECT coordinator_id, process,
                  (extract(epoch FROM lease_until - now()) * 1000)::float8 AS lease_ms
             FROM ${leases(schema)}
            ORDER BY lease_until DESC
            LIMIT 1000`,
    values: [],
  };
}

/**
 * Forgets coordinators that have been dead for longer than the retention and left nothing behind: no decision
 * row (those are deleted first, by {@link deleteExpiredDecisions}) and no prepared branch seen (`keep`).
 */
export function deleteDeadCoordinators(
  schema: string,
  retentionMs: number,
  keep: readonly string[],
): Statement {
  return {
    text: `DELETE FROM ${leases(schema)} l
            WHERE lease_until < now() - make_interval(secs => $1::double precision / 1000)
              AND NOT (coordinator_id = ANY($2::text[]))
              AND NOT EXISTS (SELECT 1 FROM ${table(schema)} d WHERE d.coordinator_id = l.coordinator_id)`,
    values: [retentionMs, keep],
  };
}

/**
 * The prepared transactions of the connected database whose gid starts with `prefix`, with their age by the
 * server's own clock (no clock skew between coordinator and database). `LIKE` is not used: `_` in a prefix would
 * be a wildcard.
 */
export function selectPreparedTransactions(prefix: string): Statement {
  return {
    text: `SELECT gid, (extract(epoch FROM now() - prepared) * 1000)::float8 AS age_ms
             FROM pg_prepared_xacts
            WHERE database = current_database() AND left(gid, length($1)) = $1`,
    values: [prefix],
  };
}

/** Start-up check: prepared transactions are disabled while this is 0. */
export function showMaxPreparedTransactions(): Statement {
  return { text: "SELECT current_setting('max_prepared_transactions')::int AS max", values: [] };
}
