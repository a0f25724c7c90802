import pg from 'pg';
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
 * The `options` startup parameter that gives every connection of a pool these limits for its whole life
 * (`-c lock_timeout=… -c statement_timeout=…`). The demo owns its pools, so it sets the limits once per
 * connection instead of once per transaction: a statement less per transaction (see docs/operations.md).
 *
 * @example
 * new pg.Pool({ connectionString, options: connectionOptions({ lockTimeoutMs: 3_000, statementTimeoutMs: 15_000 }) });
 */
export function connectionOptions(limits: WaitLimits): string {
  const parts = [`-c lock_timeout=${positiveMs('lockTimeoutMs', limits.lockTimeoutMs)}`];
  if (limits.statementTimeoutMs !== undefined)
    parts.push(`-c statement_timeout=${positiveMs('statementTimeoutMs', limits.statementTimeoutMs)}`);
  return parts.join(' ');
}

// What each pool opened by {@link poolWithLimits} carries on every connection: recorded when it is opened rather
// than read back from its startup options.
const carriedByPool = new WeakMap<pg.Pool, WaitLimits>();

/**
 * A pool whose every connection carries `limits` for its whole life ({@link connectionOptions}), remembered so that
 * {@link limitsToSet} knows a transaction on it need not set them again.
 *
 * @example
 * const seats = poolWithLimits({ connectionString, max: 20 }, { lockTimeoutMs: 3_000, statementTimeoutMs: 15_000 });
 */
export function poolWithLimits(config: pg.PoolConfig, limits: WaitLimits): pg.Pool {
  const pool = new pg.Pool({ ...config, options: connectionOptions(limits) });
  carriedByPool.set(pool, limits);
  return pool;
}

/**
 * The part of `limits` a pool's connections do not already carry ({@link poolWithLimits}): what a transaction on
 * that pool still has to set for itself (nothing, for the pools `openDatabases` opens).
 *
 * @example
 * limitsToSet(dbs.seats, { lockTimeoutMs: 3_000 }); // {} when the pool was opened with lock_timeout=3000
 */
export function limitsToSet(
  pool: pg.Pool,
  limits: WaitLimits,
): { lockTimeoutMs?: number; statementTimeoutMs?: number } {
  const carried = carriedByPool.get(pool);
  return {
    ...(carried?.lockTimeoutMs === limits.lockTimeoutMs ? {} : { lockTimeoutMs: limits.lockTimeoutMs }),
    ...(limits.statementTimeoutMs === undefined || carried?.statementTimeoutMs === limits.statementTimeoutMs
      ? {}
      : { statementTimeoutMs: limits.statementTimeoutMs }),
  };
}

function positiveMs(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer of milliseconds, not ${value}`);
  }
  return value;
}

/**
 * Runs `work` in a local transaction whose lock waits and statements are bounded by `limits` — by the pool's
 * connections when they carry them ({@link connectionOptions}), otherwise set for this transaction.
 *
 * @example
 * await boundedTransaction(dbs.seats, { lockTimeoutMs: 3_000 }, (client) => rows(client, statement));
 */
export function boundedTransaction<T>(
  pool: pg.Pool,
  limits: WaitLimits,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return withTransaction(pool, (client) => work(client), { limits: limitsToSet(pool, limits) });
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
