import type pg from 'pg';

/**
 * A row of `pg_prepared_xacts`: a transaction that is prepared and waits for COMMIT/ROLLBACK PREPARED.
 *
 * @example
 * const left: PreparedTransaction[] = await listPreparedTransactions(pool, 'shop');
 * expect(left.map((t) => t.gid)).toEqual([]);
 */
export interface PreparedTransaction {
  /** The transaction's global id (`parseGid` from `txkit` reads txkit's own). */
  gid: string;
  /** The database it belongs to (ROLLBACK PREPARED must be issued there). */
  database: string;
  /** When it was prepared (the server's clock). */
  prepared: Date;
}

/**
 * Lists the prepared transactions of one server (they are server-wide), optionally only one database's.
 *
 * @example
 * expect(await listPreparedTransactions(pool, 'shop')).toEqual([]);
 */
export async function listPreparedTransactions(
  db: Pick<pg.Pool, 'query'>,
  database?: string,
): Promise<PreparedTransaction[]> {
  const { rows } = await db.query<PreparedTransaction>(
    `SELECT gid, database, prepared FROM pg_prepared_xacts
      WHERE $1::text IS NULL OR database = $1 ORDER BY prepared`,
    [database ?? null],
  );
  return rows;
}

/**
 * Rolls back every prepared transaction of one database. Test teardown needs this: a leftover prepared
 * transaction keeps its locks forever and blocks DROP DATABASE. ROLLBACK PREPARED must be issued from a
 * session connected to that database.
 *
 * @example
 * await rollbackPreparedTransactions(poolOnThatDatabase);
 */
export async function rollbackPreparedTransactions(db: Pick<pg.Pool, 'query'>): Promise<string[]> {
  const { rows } = await db.query<{ gid: string }>(
    'SELECT gid FROM pg_prepared_xacts WHERE database = current_database()',
  );
  for (const { gid } of rows) {
    await db.query(`ROLLBACK PREPARED '${gid.replaceAll("'", "''")}'`).catch((error: { code?: string }) => {
      // 42704: finished by someone else in the meantime.
      if (error.code !== '42704') throw error;
    });
  }
  return rows.map((r) => r.gid);
}
