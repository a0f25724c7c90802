import type pg from 'pg';
import { TxkitError } from '../errors.js';
import { codeIn, sessionLostCodes } from './sqlstate.js';
import { setLocalLimits, type TransactionLimits } from './transaction-limits.js';

/**
 * Anything that runs a query: a `pg.Pool`, a `pg.PoolClient` or a `pg.Client`.
 *
 * @example
 * const count = async (db: Queryable) => (await db.query('SELECT count(*) FROM seats')).rows[0].count;
 */
export type Queryable = Pick<pg.Pool, 'query'>;

/** A SQL statement with its parameters, as the SQL modules return them (pg-boss `plans.ts` style). */
export interface Statement {
  text: string;
  values: unknown[];
}

/**
 * Borrows a client from the pool for the duration of `work` and always gives it back. When `work` fails on a
 * broken connection the client is destroyed instead of being returned.
 *
 * With `signal`, the client is destroyed the moment the signal fires (the caller stopped waiting for `work`):
 * its connection closes, PostgreSQL rolls back whatever it had open, and the pool gets a fresh connection —
 * `work` may still be running, and its next query fails instead of reaching the server.
 *
 * @example
 * const n = await withClient(pool, async (client) => (await client.query('SELECT 1')).rowCount);
 * // Given up on after 2 s: the connection is closed, not left to a step that may never end.
 * await withClient(pool, (client) => client.query('SELECT pg_sleep(10)'), { signal: AbortSignal.timeout(2_000) });
 */
export async function withClient<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  options: { signal?: AbortSignal } = {},
): Promise<T> {
  const { signal } = options;
  const client = await pool.connect();
  let released = false;
  const release = (error?: Error) => {
    if (released) return;
    released = true;
    client.release(error);
  };
  const abandon = () => release(abandoned(signal!.reason));
  let broken: Error | undefined;
  try {
    if (signal?.aborted) throw signal.reason;
    signal?.addEventListener('abort', abandon, { once: true });
    return await work(client);
  } catch (error) {
    if (isConnectionError(error) || signal?.aborted) broken = abandoned(error);
    throw error;
  } finally {
    signal?.removeEventListener('abort', abandon);
    release(broken);
  }
}

// pg-pool destroys a client released with an error; it wants an Error.
function abandoned(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/**
 * Runs `work` in a local transaction on one borrowed client: COMMIT on success, ROLLBACK on failure. A COMMIT
 * that PostgreSQL turned into a ROLLBACK — a statement failed and `work` caught the error — is an error here
 * too, never a silent success.
 *
 * `begin`, if given, is plain SQL (no parameters) sent in the same round trip as BEGIN; `work` gets its
 * result. txkit's barrier uses it to save a round trip per participant transaction. `signal` abandons the
 * transaction as `withClient` does: the connection is closed and PostgreSQL rolls it back, unless COMMIT
 * was already on its way (then its outcome is what the server made of it).
 *
 * @example
 * await withTransaction(pool, (client) => client.query('UPDATE wallets SET balance = balance - $1', [10]));
 * const n = await withTransaction(pool, async (_, begun) => begun.rows[0].n, { begin: 'SELECT 1 AS n' });
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient, begun: pg.QueryResult) => Promise<T>,
  options: { begin?: string; limits?: TransactionLimits; signal?: AbortSignal } = {},
): Promise<T> {
  const opening = ['BEGIN', options.limits && setLocalLimits(options.limits), options.begin]
    .filter((sql) => sql !== undefined)
    .join('; ');
  return withClient(
    pool,
    async (client) => {
      try {
        const begun = await client.query(opening);
        // A multi-statement string answers with one result per statement: `work` wants the one after BEGIN.
        const result = await work(
          client,
          Array.isArray(begun) ? (begun[begun.length - 1] as pg.QueryResult) : begun,
        );
        const { command } = await client.query('COMMIT');
        if (command !== 'COMMIT') {
          throw new TxkitError(
            'ROLLED_BACK',
            'the transaction was rolled back at COMMIT: one of its statements failed and the error was caught',
          );
        }
        return result;
      } catch (error) {
        if (!options.signal?.aborted) await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    },
    options,
  );
}

/**
 * Whether an error means the connection itself is unusable (so the client must not go back to the pool).
 *
 * @example
 * try { await client.query(sql); client.release(); } catch (e) { client.release(isConnectionError(e)); throw e; }
 */
export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  if (!e) return false;
  // RESPONSE_TIMEOUT: txkit gave up on a server that stopped answering (see boundedPool).
  if (typeof e.code === 'string' && (codeIn(e.code, sessionLostCodes) || e.code === 'RESPONSE_TIMEOUT')) {
    return true;
  }
  if (typeof e.code === 'string' && ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT'].includes(e.code))
    return true;
  return /Connection terminated|Client has encountered a connection error|Client was closed/i.test(
    e.message ?? '',
  );
}
