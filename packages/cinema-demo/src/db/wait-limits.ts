import type pg from 'pg';
import { PgCode, withTransaction } from 'txkit';
import type { Statement } from './statement.js';

/**
 * How long one transaction of participant work may wait. A prepared transaction left by a dead instance keeps
 * its row locks until recovery resolves it (for a dead coordinator: once its lease expired), so without these a
 * saga step, a sweep or a start-up would wait for that as long as it takes.
 */
export interface WaitLimits {
  /** `lock_timeout`: a lock wait fails with 55P03 (lock_not_available) after this many ms. */
  lockTimeoutMs: number;
  /** `statement_timeout`: any statement fails with 57014 after this many ms (unset: the server's). */
  statementTimeoutMs?: number;
}

function integerMs(ms: number): number {
  return Math.max(1, Math.trunc(ms));
}

/**
 * The limits as `SET LOCAL` commands (plain SQL, no parameters), to send in the same round trip as BEGIN.
 * `LOCAL`, because a plain SET would outlive the transaction on a pooled connection.
 */
export function setLocalLimits(limits: WaitLimits): string {
  let sql = `SET LOCAL lock_timeout = ${integerMs(limits.lockTimeoutMs)}`;
  if (limits.statementTimeoutMs !== undefined) {
    sql += `; SET LOCAL statement_timeout = ${integerMs(limits.statementTimeoutMs)}`;
  }
  return sql;
}

/** The limits for a transaction that is already open (a saga's local step: txkit began it). */
export function applyLimits(limits: WaitLimits): Statement {
  const lock = `${integerMs(limits.lockTimeoutMs)}ms`;
  if (limits.statementTimeoutMs === undefined) {
    return { text: `SELECT set_config('lock_timeout', $1, true)`, values: [lock] };
  }
  return {
    text: `SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)`,
    values: [lock, `${integerMs(limits.statementTimeoutMs)}ms`],
  };
}

/**
 * Runs `work` in a local transaction whose lock waits and statements are bounded by `limits`.
 *
 * @example
 * await boundedTransaction(dbs.seats, { lockTimeoutMs: 3_000 }, (client) => rows(client, statement));
 */
export function boundedTransaction<T>(
  pool: pg.Pool,
  limits: WaitLimits,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return withTransaction(pool, (client) => work(client), { begin: setLocalLimits(limits) });
}

/**
 * Whether an error is a lock wait that ran out (`lock_timeout`): the lock holder is still there, the same work
 * may succeed later.
 *
 * @example
 * if (isLockTimeout(error)) return 'locked: next pass';
 */
export function isLockTimeout(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === PgCode.lockNotAvailable;
}
