import pg from 'pg';

/** Statements and commits sent through a {@link countedPool}. */
export interface StatementCounter {
  statements: number;
  /** Transactions committed: COMMITs, plus statements sent outside a transaction block (each its own). */
  commits: number;
}

const opensBlock = /^\s*(BEGIN|START\s+TRANSACTION)\b/i;
const closesBlock = /^\s*(COMMIT|END|ROLLBACK|ABORT)\b/i;

/**
 * A pg.Pool that counts the statements and commits its clients send, for a library that takes a pool and
 * does not count its own (DBOS's system database pool). Counting wraps each new client's `query` once.
 *
 * @example
 * const counter = { statements: 0, commits: 0 };
 * const pool = countedPool({ connectionString, max: 20 }, counter);
 */
export function countedPool(config: pg.PoolConfig, counter: StatementCounter): pg.Pool {
  const pool = new pg.Pool(config);
  // A connection that breaks while idle in the pool must not crash the bench process.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    let inBlock = false;
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      const first = args[0];
      const text = typeof first === 'string' ? first : ((first as { text?: string } | null)?.text ?? '');
      counter.statements++;
      if (opensBlock.test(text)) inBlock = true;
      else if (closesBlock.test(text)) {
        if (/^\s*(COMMIT|END)\b/i.test(text)) counter.commits++;
        inBlock = false;
      } else if (!inBlock) counter.commits++;
      return query(...args);
    };
  });
  return pool;
}
