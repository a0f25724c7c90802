import type { Db } from './statement.js';
import { rows } from './statement.js';

/** A prepared transaction that holds a lock on one of the tables asked about. */
export interface PreparedLockHolder {
  /** The table (schema-qualified as `regclass` prints it). */
  table: string;
  /** The prepared transaction's global id (a txkit gid names its coordinator, transaction and participant). */
  gid: string;
  /** When it was prepared, by the server's clock. */
  preparedAt: Date;
}

// A prepared transaction has no backend: its locks show in pg_locks with no pid, under one virtual transaction
// that also holds the lock on its own transaction id, which is how pg_prepared_xacts names it.
const preparedHoldersSql = `
  SELECT DISTINCT rel.relation::regclass::text AS "table", p.gid, p.prepared AS "preparedAt"
    FROM pg_locks rel
    JOIN pg_locks own ON own.locktype = 'transactionid' AND own.pid IS NULL
                     AND own.virtualtransaction = rel.virtualtransaction
    JOIN pg_prepared_xacts p ON p.transaction = own.transactionid
   WHERE rel.locktype = 'relation' AND rel.pid IS NULL
     AND rel.database = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND rel.relation = ANY($1::regclass[])
   ORDER BY 1, 2`;

/**
 * The prepared transactions holding locks on these tables (of the database `db` is connected to): what a lock
 * wait of seeding or a sweep was most likely behind. Row locks are not listed by PostgreSQL, so this names the
 * tables a leftover touched, not the rows. Cheap: two catalog views, no locks taken.
 *
 * @example
 * const holders = await preparedLockHolders(dbs.payments, ['cinema.customers']);
 * log.warn({ holders }, 'seeding waits for a prepared transaction');
 */
export async function preparedLockHolders(db: Db, tables: readonly string[]): Promise<PreparedLockHolder[]> {
  return rows<PreparedLockHolder>(db, { text: preparedHoldersSql, values: [tables] });
}

/**
 * One line for a log or a report: which prepared transactions hold locks on which tables, or that none does
 * (then the lock holder is a live session, e.g. another instance doing the same thing).
 *
 * @example
 * describeLockHolders([]); // 'no prepared transaction holds a lock there (a live session does)'
 */
export function describeLockHolders(holders: readonly PreparedLockHolder[]): string {
  if (holders.length === 0) return 'no prepared transaction holds a lock there (a live session does)';
  return holders
    .map(
      (h) => `${h.table} locked by prepared transaction '${h.gid}' (prepared ${h.preparedAt.toISOString()})`,
    )
    .join('; ');
}
