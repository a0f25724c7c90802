import { randomUUID } from 'node:crypto';
import { createTestDatabases, type TestDatabases, testCluster } from 'txkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HaproxyProcess, type ServerState, startHaproxy } from '../src/deploy/haproxy-process.js';
import { type ApiBundle, type ApiProcess, bundleApiServer, startApiProcess } from './support/api-process.js';
import { auditBookings, waitUntilSettled } from './support/booking-audit.js';
import { crashTestEnv, crashTestStage, postBooking, settleMs, signInAll } from './support/crash-fixture.js';
import { freePort } from './support/free-port.js';
import { freezeWithPreparedBranches, preparedBy } from './support/prepared-branches.js';

// The deployment's front door for real: the machine's HAProxy, configured from the compose file's template, in
// front of two API processes. Bookings in both modes go through it; one instance is killed with SIGKILL while it
// holds prepared 2PC branches. HAProxy's health checks must take it out, clients retrying with their
// idempotency keys must each get one outcome, the surviving instance must finish the dead one's work (it never
// comes back, so nobody else can), and the audit must be clean.

const TIMINGS = { leaseMs: 1_500, prepareTimeoutMs: 1_500, staleAfterMs: 3_000 };
const SETTLE_MS = settleMs(TIMINGS);
/** Health checks every second, two failures to take a server out: a loaded machine's slow answer is not one. */
const CHECKS = { interMs: 1_000, fall: 2, rise: 2 };

let testDbs: TestDatabases;
let bundle: ApiBundle;
const processes: ApiProcess[] = [];
let proxy: HaproxyProcess | undefined;

beforeAll(async () => {
  [testDbs, bundle] = await Promise.all([
    createTestDatabases(testCluster(), 'haproxy failover'),
    bundleApiServer(),
  ]);
});
afterAll(async () => {
  await proxy?.stop();
  await Promise.all(processes.map((p) => p.kill()));
  await bundle?.remove();
  await testDbs?.drop();
});

/** What a client was finally told about one booking request, after its retries. */
interface Answer {
  key: string;
  customer: number;
  status: number;
  booking: { id: string; status: string; reason: string | null };
  /** Attempts it took (a connection cut or a 5xx from the proxy while the instance died, a 202). */
  attempts: number;
}

const hostPort = (url: string) => new URL(url).host;
const apiServer = (states: ServerState[], name: string) =>
  states.find((s) => s.backend === 'api' && s.server === name);

describe('HAProxy in front of two API instances, one killed with SIGKILL under load in both modes', () => {
  it('takes it out by health checks; every key gets one outcome; the survivor finishes its work; audit clean', async () => {
    const env = crashTestEnv(testDbs, TIMINGS);
    // One after the other: the first migrates and seeds, the second finds it done.
    for (const id of ['api-victim', 'api-survivor']) {
      processes.push(await startApiProcess(bundle, { instanceId: id, env }));
    }
    const [victim, survivor] = processes as [ApiProcess, ApiProcess];
    proxy = await startHaproxy(
      {
        bind: `127.0.0.1:${await freePort()}`,
        apiServers: [hostPort(victim.url), hostPort(survivor.url)],
        // Without a broker each instance serves the read model too.
        readModelServers: [hostPort(survivor.url)],
        checks: CHECKS,
      },
      { statsPort: await freePort() },
    );
    const front = proxy.url;

    const seats = testDbs.on('a').pool;
    const { moneyBefore, screeningId, seatIds } = await crashTestStage(testDbs);
    const customers = [1, 2, 3, 4];
    const tokens = await signInAll(front, customers);

    const answers: Answer[] = [];
    let down = false;
    let answeredAfterDown = 0;
    // Until the take-out, then a minute more for the answers after it: bounded however slow the machine is.
    let loadDeadline = Date.now() + 120_000;
    const post = (token: string, key: string, body: object) => postBooking(front, token, key, body);

    /** One booking through the proxy, retried with the same key until it has its final answer. */
    async function book(client: number, n: number): Promise<void> {
      const mode = n % 2 === 0 ? 'saga' : '2pc';
      const key = randomUUID();
      const body = { screeningId, seatIds: [seatIds[(client * 7 + n * 3) % seatIds.length]!], mode };
      const customer = customers[client % customers.length]!;
      let res: Response | undefined;
      let attempts = 0;
      // A connection cut with the instance, the proxy's 502/503/504 for a request it had sent there, or a 202
      // (still running): ask again with the same key, which answers the same booking.
      while (!res || res.status === 202 || res.status >= 500) {
        if (Date.now() > loadDeadline + SETTLE_MS) throw new Error(`booking ${key} never got an outcome`);
        if (attempts > 0) await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempts, 1_000)));
        attempts++;
        res = await post(tokens[client % tokens.length]!, key, body).catch(() => undefined);
      }
      const json = (await res.json()) as { booking: Answer['booking'] };
      answers.push({ key, customer, status: res.status, booking: json.booking, attempts });
      if (down) answeredAfterDown++;
    }

    const clients = Array.from({ length: 8 }, async (_, client) => {
      for (let n = 0; !(down && answeredAfterDown >= 24) && Date.now() < loadDeadline; n++) {
        await book(client, n);
      }
    });
    // Both instances take requests before the kill (round robin), in both modes.
    await expect
      .poll(
        async () => {
          const states = await proxy!.servers();
          return (
            answers.length >= 16 &&
            (apiServer(states, 'api1')?.sessions ?? 0) > 0 &&
            (apiServer(states, 'api2')?.sessions ?? 0) > 0
          );
        },
        { timeout: 60_000, interval: 200 },
      )
      .toBe(true);
    // Killed while it holds prepared branches (frozen the moment one shows up), so that it leaves work behind.
    const leftovers = await freezeWithPreparedBranches(testDbs, victim);
    expect(leftovers).toBeGreaterThan(0);
    const { rows: sagasLeft } = await seats.query<{ id: string }>(
      "SELECT id FROM txkit.saga WHERE owner = $1 AND status IN ('running', 'compensating')",
      [victim.instanceId],
    );
    await victim.kill();

    // HAProxy's own health checks take it out (nothing tells it).
    await expect
      .poll(async () => apiServer(await proxy!.servers(), 'api1')?.status ?? 'missing', {
        timeout: 30_000,
        interval: 200,
      })
      .toMatch(/^DOWN/);
    // The survivor stays in (a check it failed under load would show as "UP 1/2", still serving).
    expect(apiServer(await proxy.servers(), 'api2')?.status).toMatch(/^UP/);
    down = true;
    loadDeadline = Date.now() + 60_000;
    await Promise.all(clients);
    expect(
      answeredAfterDown,
      'the survivor alone answered bookings after the take-out',
    ).toBeGreaterThanOrEqual(24);

    // The victim never returns: whatever it left is finished by the survivor (takeover), or nobody.
    const left = await waitUntilSettled(testDbs, SETTLE_MS);
    expect(left, 'nothing prepared, pending or mid-saga after the settle time').toEqual({
      prepared: 0,
      unsettledBookings: 0,
      unfinishedSagas: 0,
    });
    expect(await preparedBy(testDbs, victim)).toBe(0);
    if (sagasLeft.length > 0) {
      const { rows: owners } = await seats.query<{ owner: string }>(
        'SELECT DISTINCT owner FROM txkit.saga WHERE id = ANY($1::uuid[])',
        [sagasLeft.map((s) => s.id)],
      );
      expect(owners.map((o) => o.owner)).toEqual([survivor.instanceId]);
    }

    const audit = await auditBookings(testDbs, { screeningId, moneyBefore });
    expect(audit.violations).toEqual([]);
    // One outcome per key: what the client was told is the one booking its key made, as the databases hold it,
    // and asking again with the key answers the same.
    for (const a of answers) {
      expect(a.status, `answer to ${a.key}`).toBeOneOf(a.booking.status === 'rejected' ? [409] : [200, 201]);
      const { rows } = await seats.query<{ id: string; status: string }>(
        'SELECT id, status FROM cinema.bookings WHERE customer_id = $1 AND idempotency_key = $2',
        [a.customer, a.key],
      );
      expect(rows, `bookings of key ${a.key}`).toEqual([{ id: a.booking.id, status: a.booking.status }]);
      if (a.booking.status === 'rejected') expect(a.booking.reason).not.toBeNull();
    }
    const retried = answers.filter((a) => a.attempts > 1).slice(0, 10);
    for (const a of [...retried, ...answers.slice(0, 5)]) {
      const token = tokens[customers.indexOf(a.customer)]!;
      const { rows } = await seats.query<{ screening_id: number; seat_ids: number[]; mode: string }>(
        'SELECT screening_id, seat_ids, mode FROM cinema.bookings WHERE id = $1',
        [a.booking.id],
      );
      const again = await post(token, a.key, {
        screeningId: rows[0]!.screening_id,
        seatIds: rows[0]!.seat_ids,
        mode: rows[0]!.mode,
      });
      expect(((await again.json()) as { booking: Answer['booking'] }).booking).toMatchObject({
        id: a.booking.id,
        status: a.booking.status,
      });
    }
    expect(answers.some((a) => a.booking.status === 'confirmed')).toBe(true);
  }, 480_000);
});
