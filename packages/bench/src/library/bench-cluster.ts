import pg from 'pg';
import { clusterFromUrls, type PostgresCluster, startPostgresCluster } from 'txkit/testing';
import type { BenchDatabases } from './booking-mode.js';

/** The three PostgreSQL servers a library-level run uses, and pools on them. */
export interface BenchCluster {
  dbs: BenchDatabases;
  /** Connection strings of the seats, payments and tickets servers (for child processes). */
  urls: string[];
  /** PostgreSQL version and durability settings, for the report. */
  server: Record<string, string>;
  close(): Promise<void>;
}

/**
 * The bench servers' settings: durability as in production — a benchmark with fsync off would hide what PREPARE
 * and COMMIT really cost.
 */
export const benchServerSettings: Readonly<Record<string, string>> = {
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  shared_buffers: '128MB',
  max_connections: '300',
  max_prepared_transactions: '200',
};

/**
 * Starts three servers (`seats`, `payments`, `tickets`) with production durability settings, or connects to
 * the three given as URLs.
 */
export async function openBenchCluster(options: {
  pgUrls?: string;
  poolSize: number;
}): Promise<BenchCluster> {
  const cluster: PostgresCluster = options.pgUrls
    ? clusterFromUrls(options.pgUrls)
    : await startPostgresCluster({ names: ['seats', 'payments', 'tickets'], settings: benchServerSettings });
  // Given URLs are used as given: clusterFromUrls keeps only host, port and user of each (its instances point
  // at the `postgres` database), and a test's URLs name its own database, which two test files must not share.
  const urls =
    options.pgUrls
      ?.split(',')
      .map((url) => url.trim())
      .filter(Boolean) ?? cluster.instances.map((instance) => instance.connectionString);
  const [seats, payments, tickets] = urls.map(
    (connectionString) => new pg.Pool({ connectionString, max: options.poolSize }),
  );
  if (!seats || !payments || !tickets) throw new Error('the bench needs three PostgreSQL servers');
  const dbs = { seats, payments, tickets };
  const { rows } = await seats.query<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_settings
      WHERE name IN ('server_version', 'fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers',
                     'max_prepared_transactions', 'wal_sync_method')`,
  );
  return {
    dbs,
    urls,
    server: Object.fromEntries(rows.map((r) => [r.name, r.setting])),
    async close() {
      await Promise.all([seats.end(), payments.end(), tickets.end()]);
      await cluster.destroy();
    },
  };
}
