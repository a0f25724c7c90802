import type pg from 'pg';
import { beginOnFirstQuery } from '../db/begin-on-first-query.js';
import { setLocalLimits, type TransactionLimits } from '../db/transaction-limits.js';

/**
 * Runs `work` in a transaction on a client of the log pool (a local step), bounded by `limits`. Commits when `work` returns
 * `'commit'`, rolls back when it returns `'rollback'` or throws. A client whose work was abandoned (timeout,
 * lost lease, simulated crash) or whose connection broke is destroyed instead of returned: its queries may
 * still be running, and closing the connection makes PostgreSQL roll the transaction back.
 */
export async function inLogTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<{ end: 'commit' | 'rollback'; value: T }>,
  mustDestroy: (error: unknown) => boolean,
  limits: TransactionLimits = {},
): Promise<T> {
  const set = setLocalLimits(limits);
  const client = await pool.connect();
  // BEGIN rides with the step's first statement (one round trip less for every local step).
  const transaction = beginOnFirstQuery(client, set ? `BEGIN; ${set}` : 'BEGIN');
  let destroy: Error | undefined;
  try {
    const { end, value } = await work(transaction.client);
    await transaction.end(end === 'commit' ? 'COMMIT' : 'ROLLBACK');
    return value;
  } catch (error) {
    if (mustDestroy(error)) destroy = destroyReason(error);
    else await transaction.end('ROLLBACK').catch((e) => (destroy = destroyReason(e)));
    throw error;
  } finally {
    client.release(destroy);
  }
}

/** The error a pinned client is destroyed with, so that PostgreSQL rolls its transaction back. */
function destroyReason(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
