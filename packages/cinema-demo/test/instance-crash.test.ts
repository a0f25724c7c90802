import { randomUUID } from 'node:crypto';
import { createTestDatabases, type TestDatabases, testCluster } from 'txkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiBundle, type ApiProcess, bundleApiServer, startApiProcess } from './support/api-process.js';
import { auditBookings, waitUntilSettled } from './support/booking-audit.js';
import { crashTestEnv, crashTestStage, postBooking, settleMs, signInAll } from './support/crash-fixture.js';
import { freezeWithPreparedBranches } from './support/prepared-branches.js';

// The crash as deployments see it: two API processes share the three databases; one is killed with SIGKILL in
// the middle of a burst of bookings in both modes and started again under a *new* instance id (as a new
// container or pod would be). Whatever it left — prepared 2PC branches (some decided commit), sagas mid-way,
// bookings pending — must settle by itself, in bounded time, into a clean audit.

const TIMINGS = { leaseMs: 1_500, prepareTimeoutMs: 1_500, staleAfterMs: 3_000 };
const SETTLE_MS = settleMs(TIMINGS);

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
    env = crashTestEnv(testDbs, TIMINGS);
    // One after the other: the first migrates and seeds, the second finds it done.
    const doomed = await start('api-doomed');
    const survivor = await start('api-survivor');
    const seats = testDbs.on('a').pool;
    const { moneyBefore, screeningId, seatIds } = await crashTestStage(testDbs);
    const tokens = await signInAll(survivor.url, [1, 2, 3, 4]);

    const answers: Answer[] = [];
    let killed = false;
    let answeredAfterKill = 0;
    // Long enough for the search for a moment with prepared branches (up to a minute) on a loaded machine.
    const loadDeadline = Date.now() + 120_000;

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
          res = await postBooking(target.url, token, key, body);
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
    const leftovers = await freezeWithPreparedBranches(testDbs, doomed);
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
  }, 300_000);
});
