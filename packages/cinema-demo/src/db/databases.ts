import type pg from 'pg';
import { runMigrations } from 'txkit';
import payments1 from '../../sql/payments/000001_schema.sql';
import payments2 from '../../sql/payments/000002_accounts.sql';
import seats1 from '../../sql/seats/000001_schema.sql';
import seats2 from '../../sql/seats/000002_sessions.sql';
import seats3 from '../../sql/seats/000003_booking_waterfalls.sql';
import tickets1 from '../../sql/tickets/000001_schema.sql';
import { SCHEMA } from './statement.js';
import { poolWithLimits, type WaitLimits } from './wait-limits.js';

/** The three databases of the demo, one pool each. */
export interface Databases {
  seats: pg.Pool;
  payments: pg.Pool;
  tickets: pg.Pool;
}

/** Connection strings of the three databases. */
export interface DatabaseUrls {
  seats: string;
  payments: string;
  tickets: string;
}

/**
 * Opens one pool per database, every connection bounded by `limits` for its whole life (`lock_timeout`,
 * `statement_timeout` as startup options): the demo owns these pools, so no transaction on them spends a statement
 * setting the limits (txkit's per-transaction limits are for pools an application shares). Idle-client errors
 * (a restarted server) are reported, not fatal.
 *
 * @example
 * const dbs = openDatabases(urls, { max: 20, limits: { lockTimeoutMs: 3_000, statementTimeoutMs: 15_000 } }, warn);
 */
export function openDatabases(
  urls: DatabaseUrls,
  pools: { max: number; limits: WaitLimits },
  onError: (error: Error) => void,
): Databases {
  const open = (connectionString: string) => {
    // A request waits at most this long for a pooled connection (pg's default is for ever); txkit retries the
    // step that hit it, like a lock timeout.
    const pool = poolWithLimits(
      { connectionString, max: pools.max, connectionTimeoutMillis: 10_000 },
      pools.limits,
    );
    pool.on('error', onError);
    return pool;
  };
  return { seats: open(urls.seats), payments: open(urls.payments), tickets: open(urls.tickets) };
}

/** Closes the three pools. */
export async function closeDatabases(dbs: Databases): Promise<void> {
  await Promise.all([dbs.seats.end(), dbs.payments.end(), dbs.tickets.end()]);
}

/** Applies the demo's own migrations to each database (txkit's tables are migrated by txkit). */
export async function migrateDatabases(dbs: Databases): Promise<void> {
  await runMigrations(dbs.seats, {
    schema: SCHEMA,
    component: 'cinema-seats',
    migrations: [
      { version: 1, sql: seats1 },
      { version: 2, sql: seats2 },
      { version: 3, sql: seats3 },
    ],
  });
  await runMigrations(dbs.payments, {
    schema: SCHEMA,
    component: 'cinema-payments',
    migrations: [
      { version: 1, sql: payments1 },
      { version: 2, sql: payments2 },
    ],
  });
  await runMigrations(dbs.tickets, {
    schema: SCHEMA,
    component: 'cinema-tickets',
    migrations: [{ version: 1, sql: tickets1 }],
  });
}
