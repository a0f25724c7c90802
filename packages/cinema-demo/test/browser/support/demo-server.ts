import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { InProcessBus } from 'txkit/outbox';
import { createTestDatabases, type TestDatabases, testCluster } from 'txkit/testing';
import { build } from 'vite';
import { type Config, loadConfig } from '../../../src/config.js';
import type { Databases } from '../../../src/db/databases.js';
import { type ApiRuntime, startApi } from '../../../src/server/api-runtime.js';
import { DEMO_PASSWORDS } from '../../support/demo-harness.js';
import { freePort } from '../../support/free-port.js';

const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Where the browser tests keep their screenshots (git-ignored). */
export const ARTIFACTS = join(packageRoot, 'test-artifacts');

/** The whole demo as a browser sees it: API, read model and the built web UI on one port, on fresh databases. */
export interface DemoServer {
  url: string;
  api: ApiRuntime;
  dbs: Databases;
  config: Config;
  close(): Promise<void>;
}

/** Builds the web UI with the package's Vite config into a temporary folder (the tests never need `npm run build`). */
async function buildWebBundle(): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), 'cinema-web-'));
  // Vitest sets NODE_ENV=test, which would give a development JSX transform and React build; build as
  // `npm run build:web` does.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: join(packageRoot, 'vite.config.ts'),
      mode: 'production',
      logLevel: 'warn',
      build: { outDir, emptyOutDir: true, sourcemap: false },
    });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  return outDir;
}

/**
 * Starts the real demo server (booking engine, outbox relay, read model over socket.io, the built bundle) on a
 * free port, with seats, payments and tickets on the three harness PostgreSQL servers. `env` is configuration,
 * e.g. `{ PAYMENT_DECLINE_RATE: '1' }` to make every payment fail.
 *
 * @example
 * const demo = await startDemoServer('browser-booking');
 * await page.goto(`${demo.url}/#/screenings/1`);
 */
export async function startDemoServer(label: string, env: Record<string, string> = {}): Promise<DemoServer> {
  const [testDbs, webDir, port] = await Promise.all([
    createTestDatabases(testCluster(), label) as Promise<TestDatabases>,
    buildWebBundle(),
    freePort(),
  ]);
  const dbs = { seats: testDbs.on('a').pool, payments: testDbs.on('b').pool, tickets: testDbs.on('c').pool };
  const config = loadConfig({
    SEATS_DATABASE_URL: testDbs.on('a').connectionString,
    PAYMENTS_DATABASE_URL: testDbs.on('b').connectionString,
    TICKETS_DATABASE_URL: testDbs.on('c').connectionString,
    OPERATOR_TOKEN: randomUUID(),
    HOST: '127.0.0.1',
    PORT: String(port),
    INSTANCE_ID: `web-${randomUUID().slice(0, 8)}`,
    LOG_LEVEL: 'silent',
    ...env,
  });
  const api = await startApi({
    config,
    bus: new InProcessBus(),
    logger: pino({ level: 'silent' }),
    demoPasswords: DEMO_PASSWORDS,
    withReadModel: true,
    dbs,
    webDir,
    recoveryIntervalMs: 500,
    relayPollMs: 100,
  });
  await mkdir(ARTIFACTS, { recursive: true });
  return {
    url: api.url,
    api,
    dbs,
    config,
    async close() {
      await api.close();
      await testDbs.drop();
      await rm(webDir, { recursive: true, force: true });
    },
  };
}

/** The status of a seat named like the UI names it ("C7": row 3, place 7) in one screening, from the database. */
export async function seatStatusInDb(dbs: Databases, screeningId: number, name: string): Promise<string> {
  const match = /^([A-Z])(\d+)$/.exec(name);
  if (!match) throw new Error(`bad seat name ${name}`);
  const row = match[1]!.charCodeAt(0) - 64;
  const { rows } = await dbs.seats.query<{ status: string }>(
    `SELECT ss.status FROM cinema.screening_seats ss JOIN cinema.seats s ON s.id = ss.seat_id
      WHERE ss.screening_id = $1 AND s.row_number = $2 AND s.place = $3`,
    [screeningId, row, Number(match[2])],
  );
  if (!rows[0]) throw new Error(`no seat ${name} in screening ${screeningId}`);
  return rows[0].status;
}

/** A customer's wallet balance, from the payments database. */
export async function balanceInDb(dbs: Databases, name: string): Promise<number> {
  const { rows } = await dbs.payments.query<{ b: number }>(
    'SELECT balance_cents::int AS b FROM cinema.customers WHERE name = $1',
    [name],
  );
  if (!rows[0]) throw new Error(`no customer ${name}`);
  return rows[0].b;
}
