import { randomUUID } from 'node:crypto';
import { type Logger, pino } from 'pino';
import { InProcessBus, type MessageBus } from 'txkit/outbox';
import { createTestDatabases, type TestDatabases, testCluster } from 'txkit/testing';
import { demoEmail } from '../../src/auth/demo-passwords.js';
import { type Config, type FaultSettings, loadConfig } from '../../src/config.js';
import { closeDatabases, type Databases, openDatabases } from '../../src/db/databases.js';
import { SEED_CUSTOMERS } from '../../src/db/seed.js';
import { type ApiRuntime, startApi } from '../../src/server/api-runtime.js';

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers field by field
type JsonBody = any;

export const OPERATOR_TOKEN = 'operator-token-for-tests-0123456789';

/** The seeded customers' passwords in tests (`npm start` makes throwaway ones and prints them). */
export const DEMO_PASSWORDS: Record<string, string> = Object.fromEntries(
  SEED_CUSTOMERS.map((name) => [name, `${name.toLowerCase()}-password-for-tests`]),
);

/** Email and password of seeded customer `customerId` (1 = Alice, 2 = Bob, ...: the seeding order). */
export function demoCredentials(customerId: number): { email: string; password: string } {
  const name = SEED_CUSTOMERS[customerId - 1];
  if (!name) throw new Error(`no seeded customer ${customerId}`);
  return { email: demoEmail(name), password: DEMO_PASSWORDS[name]! };
}

/** A running API on fresh databases (seats on instance a, payments on b, tickets on c). */
export interface DemoHarness {
  api: ApiRuntime;
  dbs: Databases;
  config: Config;
  /** Mutable: change rates between requests. */
  faults: FaultSettings;
  testDbs: TestDatabases;
  /** Signs a seeded customer in with their email and password; returns the bearer token. */
  signIn(customerId: number): Promise<string>;
  request(
    method: string,
    path: string,
    options?: {
      token?: string;
      key?: string;
      body?: unknown;
      rawBody?: string;
      headers?: Record<string, string>;
    },
  ): Promise<{ status: number; body: JsonBody; headers: Headers }>;
  book(
    token: string,
    body: { screeningId: number; seatIds: number[]; mode: 'saga' | '2pc' },
    key?: string,
  ): Promise<{ status: number; body: JsonBody; headers: Headers }>;
  close(): Promise<void>;
}

export async function startHarness(
  label: string,
  env: Record<string, string> = {},
  options: { bus?: MessageBus; withReadModel?: boolean; logger?: Logger; traceRequests?: boolean } = {},
): Promise<DemoHarness> {
  const testDbs = await createTestDatabases(testCluster(), label);
  const config = loadConfig({
    SEATS_DATABASE_URL: testDbs.on('a').connectionString,
    PAYMENTS_DATABASE_URL: testDbs.on('b').connectionString,
    TICKETS_DATABASE_URL: testDbs.on('c').connectionString,
    OPERATOR_TOKEN,
    PORT: '0',
    INSTANCE_ID: `t-${randomUUID().slice(0, 8)}`,
    LOG_LEVEL: 'silent',
    BOOKINGS_PER_MINUTE: '1000',
    // Every test signs in from 127.0.0.1: only the tests of these limits set them low.
    SIGN_IN_ATTEMPTS_PER_CLIENT: '10000',
    SIGN_UPS_PER_CLIENT: '10000',
    ...env,
  });
  // Pools as the API opens its own: every connection bounded by the configured limits.
  const dbs = openDatabases(
    {
      seats: config.SEATS_DATABASE_URL,
      payments: config.PAYMENTS_DATABASE_URL,
      tickets: config.TICKETS_DATABASE_URL,
    },
    {
      max: 20,
      limits: { lockTimeoutMs: config.LOCK_TIMEOUT_MS, statementTimeoutMs: config.STATEMENT_TIMEOUT_MS },
    },
    () => {},
  );
  const faults: FaultSettings = {
    paymentDeclineRate: 0,
    paymentLatencyMs: 0,
    ticketFailureRate: 0,
    random: Math.random,
  };
  const api = await startApi({
    config,
    bus: options.bus ?? new InProcessBus(),
    logger: options.logger ?? pino({ level: 'silent' }),
    withReadModel: options.withReadModel ?? true,
    dbs,
    faults,
    demoPasswords: DEMO_PASSWORDS,
    recoveryIntervalMs: 500,
    relayPollMs: 100,
    // Tests that need the sweep call it themselves, so its timing is theirs: a background pass (the first one runs
    // at start-up) could finish their orphans first on a slow machine.
    sweepIntervalMs: false,
    traceRequests: options.traceRequests,
  });
  const request: DemoHarness['request'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    if (o.key) headers['idempotency-key'] = o.key;
    let body: string | undefined = o.rawBody;
    if (o.body !== undefined) body = JSON.stringify(o.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(`${api.url}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {}
    return { status: res.status, body: parsed, headers: res.headers };
  };
  return {
    api,
    dbs,
    config,
    faults,
    testDbs,
    request,
    async signIn(customerId) {
      const res = await request('POST', '/api/session', { body: demoCredentials(customerId) });
      if (res.status !== 201) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.token as string;
    },
    book(token, body, key = randomUUID()) {
      return request('POST', '/api/bookings', { token, key, body });
    },
    async close() {
      await api.close();
      await closeDatabases(dbs);
      await testDbs.drop();
    },
  };
}

/** Row counts that must not change when a request is refused. */
export async function writeCounts(dbs: Databases): Promise<{
  bookings: number;
  soldSeats: number;
  payments: number;
  balance: number;
  topUps: number;
  tickets: number;
}> {
  const count = async (pool: Databases['seats'], sql: string) => Number((await pool.query(sql)).rows[0].n);
  return {
    bookings: await count(dbs.seats, 'SELECT count(*) AS n FROM cinema.bookings'),
    soldSeats: await count(
      dbs.seats,
      "SELECT count(*) AS n FROM cinema.screening_seats WHERE status = 'sold'",
    ),
    payments: await count(dbs.payments, 'SELECT count(*) AS n FROM cinema.payments'),
    balance: await count(dbs.payments, 'SELECT sum(balance_cents) AS n FROM cinema.customers'),
    topUps: await count(dbs.payments, 'SELECT count(*) AS n FROM cinema.top_ups'),
    tickets: await count(dbs.tickets, 'SELECT count(*) AS n FROM cinema.tickets'),
  };
}

/** The seats of a screening, first `n` of them (by row, place). */
export async function seatsOf(dbs: Databases, screeningId: number, n: number): Promise<number[]> {
  const { rows } = await dbs.seats.query<{ seat_id: number }>(
    'SELECT seat_id FROM cinema.screening_seats WHERE screening_id = $1 ORDER BY seat_id LIMIT $2',
    [screeningId, n],
  );
  return rows.map((r) => r.seat_id);
}
