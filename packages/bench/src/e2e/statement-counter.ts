import type pg from 'pg';

/** One normalised statement and how often it ran. */
export interface StatementCount {
  query: string;
  calls: number;
}

/** Counts what one database executes, between a reset and a read (pg_stat_statements). */
export interface StatementCounter {
  reset(): Promise<void>;
  /** Every statement run since the reset (utility ones — BEGIN, COMMIT, SET, PREPARE — included), most first. */
  read(): Promise<StatementCount[]>;
}

/**
 * pg_stat_statements on the database of `pool`, when the server preloads it (the e2e bench starts its servers
 * so); `undefined` otherwise (servers given by URL without it). The counter's own statements are left out.
 *
 * @example
 * const counter = await openStatementCounter(dbs.seats);
 * await counter?.reset(); ...load...; const counts = await counter?.read();
 */
export async function openStatementCounter(pool: pg.Pool): Promise<StatementCounter | undefined> {
  try {
    await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await pool.query('SELECT pg_stat_statements_reset()');
  } catch {
    return undefined;
  }
  return {
    async reset() {
      await pool.query('SELECT pg_stat_statements_reset()');
    },
    async read() {
      const { rows } = await pool.query<{ query: string; calls: string }>(
        `SELECT query, calls::text FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND query NOT LIKE '%pg_stat_statements%'
          ORDER BY calls DESC`,
      );
      return rows.map((r) => ({ query: r.query.replace(/\s+/g, ' ').trim(), calls: Number(r.calls) }));
    },
  };
}
