import { randomUUID } from 'node:crypto';
import type pg from 'pg';

/** A prepared transaction standing in for one a dead instance left: it keeps its locks until rolled back. */
export interface Leftover {
  gid: string;
  rollback(): Promise<void>;
  /** What recovery does with a branch whose transaction decided commit. */
  commit(): Promise<void>;
}

/**
 * Runs `sql` in a transaction and prepares it under a gid no txkit recovery resolves (not a txkit gid), so it
 * holds its locks for as long as the test wants: the worst case of a leftover (one whose coordinator's lease has
 * not expired yet, or whose decision log is gone).
 */
export async function prepareLeftover(pool: pg.Pool, sql: string, values: unknown[] = []): Promise<Leftover> {
  const gid = `leftover-${randomUUID()}`;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(sql, values);
    await client.query(`PREPARE TRANSACTION '${gid}'`);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
  const finish = (command: 'COMMIT' | 'ROLLBACK') =>
    pool.query(`${command} PREPARED '${gid}'`).then(
      () => {},
      (error: { code?: string }) => {
        // 42704: already finished.
        if (error.code !== '42704') throw error;
      },
    );
  return { gid, rollback: () => finish('ROLLBACK'), commit: () => finish('COMMIT') };
}
