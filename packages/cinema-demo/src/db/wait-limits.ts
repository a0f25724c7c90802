import type pg from 'pg';
import { PgCode, withTransaction } from 'txkit';

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
  return withTransaction(pool, (client) => work(client), { limits });
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
