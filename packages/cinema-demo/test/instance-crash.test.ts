import { randomBytes, randomUUID } from 'node:crypto';
import { createTestDatabases, type TestDatabases, testCluster } from 'txkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setDemoPasswords } from '../src/auth/demo-passwords.js';
import { type ApiBundle, type ApiProcess, bundleApiServer, startApiProcess } from './support/api-process.js';
import { auditBookings, moneyInSystem, waitUntilSettled } from './support/booking-audit.js';
import { DEMO_PASSWORDS, demoCredentials } from './support/demo-harness.js';

// The crash as deployments see it: two API processes share the three databases; one is killed with SIGKILL in
// the middle of a burst of bookings in both modes and started again under a *new* instance id (as a new
// container or pod would be). Whatever it left — prepared 2PC branches (some decided commit), sagas mid-way,
// bookings pending — must settle by itself, in bounded time, into a clean audit.

const LEASE_MS = 1_500;
const PREPARE_TIMEOUT_MS = 1_500;
const STALE_AFTER_MS = 3_000;
const SWEEP_INTERVAL_MS = 500;
/** Takeover after the lease, the prepare timeout, the sweep's staleness, plenty of room for a loaded machine. */
const SETTLE_MS = LEASE_MS + PREPARE_TIMEOUT_MS + STALE_AFTER_MS + 30_000;

let testDbs: TestDatabases;
let bundle: ApiBundle;
const processes: ApiProcess[] = [];

beforeAll(async () => {
  [testDbs, bundle] = await Promise.all([
    createTestDatabases(testCluster(), 'instance crash'),
    bundleApiServer(),
  ]);
});
afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  await bundle?.remove();
  await testDbs?.drop();
});

function start(instanceId: string): Promise<ApiProcess> {
  return startApiProcess(bundle, { instanceId, env }).then((p) => {
    processes.push(p);
    return p;
  });
}

let env: Record<string, string>;

/** Prepared branches of `api-doomed` on the payments and tickets servers. */
async function preparedBy(instance: ApiProcess): Promise<number> {
  let n = 0;
  for (const db of ['b', 'c'] as const) {
    const { rowCount } = await testDbs
      .on(db)
      .pool.query('SELECT 1 FROM pg_prepared_xacts WHERE starts_with(gid, $1)', [
        `tx:${instance.instanceId}:`,
      ]);
    n += rowCount ?? 0;
  }
  return n;
}

/** PREPARE / COMMIT PREPARED statements of `instance` that the payments and tickets servers are still running. */
async function runningFor(instance: ApiProcess): Promise<number> {
  let n = 0;
  for (const db of ['b', 'c'] as const) {
    const { rowCount } = await testDbs
      .on(db)
      .pool.query(
        "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND strpos(query, $1) > 0 AND pid <> pg_backend_pid()",
        [`tx:${instance.instanceId}:`],
      );
    n += rowCount ?? 0;
  }
  return n;
}

/**
 * Freezes `instance` (SIGSTOP) at a moment it holds prepared branches that stay prepared: as soon as one shows up
 * it is stopped, the statements it had already sent are left to finish, and if nothing stays prepared it is
 * resumed and watched again. Returns how many branches it holds, frozen.
 */
async function freezeWithPreparedBranches(instance: ApiProcess): Promise<number> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    if ((await preparedBy(instance)) === 0) continue;
    instance.child.kill('SIGSTOP');
    await expect.poll(() => runningFor(instance), { timeout: 5_000 }).toBe(0);
    const held = await preparedBy(instance);
    if (held > 0) return held;
    instance.child.kill('SIGCONT');
  }
  throw new Error(`${instance.instanceId} never held a prepared branch under load`);
}

/** What a client was told about one booking request (after retrying on the other instance if its own died). */
interface Answer {
  key: string;
  mode: 'saga' | '2pc';
  status: number;
  booking?: { id: string; status: string; reason: string | null };
  /** The first instance died under this request: the answer is the retry's. */
  retried: boolean;
}

describe('two API instances, one killed with SIGKILL under mixed-mode load and restarted under a new id', () => {
  it('settles everything it left by itself: nothing prepared or pending, every answer true, money conserved', async () => {
    env = {
      SEATS_DATABASE_URL: testDbs.on('a').connectionString,
      PAYMENTS_DATABASE_URL: testDbs.on('b').connectionString,
      TICKETS_DATABASE_URL: testDbs.on('c').connectionString,
      OPERATOR_TOKEN: randomBytes(16).toString('hex'),
      BOOKINGS_PER_MINUTE: '100000',
      LOG_LEVEL: 'warn',
      LOCK_TIMEOUT_MS: '500',
      PREPARE_TIMEOUT_MS: String(PREPARE_TIMEOUT_MS),
      TXKIT_LEASE_MS: String(LEASE_MS),
      RECOVERY_INTERVAL_MS: '300',
      STALE_BOOKING_AFTER_MS: String(STALE_AFTER_MS),
      SWEEP_INTERVAL_MS: String(SWEEP_INTERVAL_MS),
      PAYMENT_DECLINE_RATE: '0.1',
    };
    // One after the other: the first migrates and seeds, the second finds it done.
    const doomed = await start('api-doomed');
    const survivor = await start('api-survivor');
    const seats = testDbs.on('a').pool;
    // A deployment's seeded customers have no password (only `npm start` gives them some): the test gives them
    // theirs as `npm start` does, then signs in with email and password.
    await setDemoPasswords(testDbs.on('b').pool, DEMO_PASSWORDS);
    const moneyBefore = await moneyInSystem(testDbs.on('b').pool);
    const screeningId = 1;
    const { rows: seatRows } = await seats.query<{ seat_id: number }>(
      'SELECT seat_id FROM cinema.screening_seats WHERE screening_id = $1 ORDER BY seat_id LIMIT 40',
      [screeningId],
    );
    const seatIds = seatRows.map((r) => r.seat_id);
    const tokens = await Promise.all(
      [1, 2, 3, 4].map(async (customerId) => {
        const res = await fetch(`${survivor.url}/api/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(demoCredentials(customerId)),
        });
        expect(res.status).toBe(201);
        return ((await res.json()) as { token: string }).token;
      }),
    );

    const answers: Answer[] = [];
    let killed = false;
    let answeredAfterKill = 0;
    const loadDeadline = Date.now() + 60_000;
    const post = (base: string, token: string, key: string, body: object) =>
      fetch(`${base}/api/bookings`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          'idempotency-key': key,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });

    /** Sends a booking; if the instance dies under it, retries with the same key on the survivor until final. */
    async function book(client: number, n: number): Promise<void> {
      const mode = n % 2 === 0 ? 'saga' : '2pc';
      const key = randomUUID();
      const body = { screeningId, seatIds: [seatIds[(client * 7 + n * 3) % seatIds.length]!], mode };
      const token = tokens[client % tokens.length]!;
      let retried = false;
      let res: Response | undefined;
      // A retry with the same key answers the same booking; 202 while it is still being settled.
      for (let attempt = 0; !res || res.status === 202; attempt++) {
        if (Date.now() > loadDeadline + SETTLE_MS) throw new Error(`booking ${key} never settled`);
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 1_000)));
        const target = attempt === 0 && client % 2 === 0 ? doomed : survivor;
        try {
          res = await post(target.url, token, key, body);
        } catch {
          retried = true; // the connection died with the instance (or the answer took too long): ask again
          res = undefined;
        }
      }
      const json = (await res.json()) as { booking?: Answer['booking'] };
      answers.push({ key, mode, status: res.status, booking: json.booking, retried });
      if (killed) answeredAfterKill++;
    }

    const clients = Array.from({ length: 8 }, async (_, client) => {
      for (let n = 0; !(killed && answeredAfterKill >= 16) && Date.now() < loadDeadline; n++) {
        await book(client, n);
      }
    });
    // The kill lands mid-burst, while the doomed instance holds prepared 2PC branches (payments and tickets; the
    // seats branch carries the decision): frozen (SIGSTOP) the moment one shows up, then killed if what it had
    // already sent still leaves one prepared — so every run leaves the successor real leftovers.
    await expect.poll(() => answers.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(16);
    const leftovers = await freezeWithPreparedBranches(doomed);
    expect(leftovers).toBeGreaterThan(0);
    await doomed.kill();
    killed = true;
    await Promise.all(clients);

    // Restarted under a new id while its leftovers are still there: start-up must not wait behind them.
    await start('api-restarted');
    const left = await waitUntilSettled(testDbs, SETTLE_MS);
    expect(left, 'nothing prepared, pending or mid-saga after the settle time').toEqual({
      prepared: 0,
      unsettledBookings: 0,
      unfinishedSagas: 0,
    });

    const audit = await auditBookings(testDbs, { screeningId, moneyBefore });
    expect(audit.violations).toEqual([]);
    for (const a of answers) {
      // The status alone tells the outcome: 200/201 confirmed, 409 refused.
      expect(a.status, `answer to ${a.key}`).toBeOneOf(a.booking!.status === 'rejected' ? [409] : [200, 201]);
      const { rows } = await seats.query<{ status: string; reason: string | null }>(
        'SELECT status, reason FROM cinema.bookings WHERE id = $1',
        [a.booking!.id],
      );
      // What the client was told is what the databases hold; a refusal always says why.
      expect(rows[0]?.status, `booking ${a.booking!.id}`).toBe(a.booking!.status);
      if (a.booking!.status === 'rejected') expect(a.booking!.reason).not.toBeNull();
    }
    expect(answers.some((a) => a.booking!.status === 'confirmed')).toBe(true);
    expect(answers.some((a) => a.retried)).toBe(true);
  });
});
