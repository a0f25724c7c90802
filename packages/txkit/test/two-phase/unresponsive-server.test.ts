import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ResponseTimeoutError, TransactionAbortedError } from '../../src/errors.js';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';
import { TwoPhaseCoordinator } from '../../src/two-phase/coordinator.js';
import { copiesOf, createBookingTables, PARTICIPANTS, preparedLeft } from './support.js';

// A server that stops answering without closing the connection (a partition without a reset, a frozen host):
// PostgreSQL's own timeouts cannot end those waits, only the client can. Here the server process of a
// connection is frozen with SIGSTOP; every call must still end, within `responseTimeoutMs`, with an error
// from the documented set — and nothing half-done once the server is back.

const RESPONSE_TIMEOUT_MS = 500;
/** Generous: a call that is bounded ends far sooner; one that is not never ends. */
const BOUND_MS = 15_000;

describe('2PC against a server that stops answering', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;
  const frozen: number[] = [];
  const pools: pg.Pool[] = [];

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, '2pc unresponsive server');
    await createBookingTables(dbs);
  });
  afterEach(async () => {
    for (const pid of frozen.splice(0)) thaw(pid);
    await Promise.all(pools.splice(0).map((p) => p.end().catch(() => {})));
  });
  afterAll(() => dbs.drop());

  /** A pool of its own on a participant's database, named so that its server processes can be found. */
  function namedPool(instance: string, name: string, max = 10): pg.Pool {
    const pool = new pg.Pool({
      connectionString: dbs.on(instance).connectionString,
      application_name: name,
      max,
    });
    pool.on('error', () => {}); // the frozen connections end badly once thawed
    pools.push(pool);
    return pool;
  }

  /** Freezes the server processes of every connection named `name` on that instance. */
  async function freeze(instance: string, name: string): Promise<number[]> {
    const { rows } = await dbs
      .on(instance)
      .pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [name]);
    for (const { pid } of rows) {
      process.kill(pid, 'SIGSTOP');
      frozen.push(pid);
    }
    return rows.map((r) => r.pid);
  }

  function thaw(pid: number): void {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  }

  async function within<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`still waiting after ${BOUND_MS} ms: unbounded`)), BOUND_MS);
    });
    try {
      return await Promise.race([work, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  function coordinator(id: string, participants: Record<string, pg.Pool>, log: pg.Pool) {
    return new TwoPhaseCoordinator({
      id,
      participants,
      log,
      decisionInLogParticipant: false,
      prepareTimeoutMs: 1_000,
      responseTimeoutMs: RESPONSE_TIMEOUT_MS,
    });
  }

  async function thawAndRecover(c: TwoPhaseCoordinator): Promise<void> {
    for (const pid of frozen.splice(0)) thaw(pid);
    await expect
      .poll(
        async () => {
          await c.recover();
          return preparedLeft(dbs);
        },
        { timeout: 10_000 },
      )
      .toEqual([]);
  }

  it('the rollback after a failed callback ends although its connection no longer answers', async () => {
    const seats = namedPool(PARTICIPANTS.seats, 'rb-seats');
    const payments = namedPool(PARTICIPANTS.payments, 'rb-payments');
    const c = coordinator('rb', { seats, payments }, seats);
    await c.migrate();
    const refused = new Error('refused by the callback');
    const outcome = within(
      c.transaction(async (tx) => {
        await tx.query('seats', "INSERT INTO bookings (key) VALUES ('rollback-frozen')");
        await tx.query('payments', "INSERT INTO bookings (key) VALUES ('rollback-frozen')");
        await freeze(PARTICIPANTS.payments, 'rb-payments');
        throw refused; // the ROLLBACK of the payments branch goes to a frozen server
      }),
    );
    await expect(outcome).rejects.toBe(refused);
    await thawAndRecover(c);
    expect(await copiesOf(dbs, 'rollback-frozen')).toBe(0);
  });

  it('a commit decision that gets no answer is fenced: the caller gets TransactionAbortedError, nothing commits', async () => {
    const seats = namedPool(PARTICIPANTS.seats, 'dec-seats');
    const payments = namedPool(PARTICIPANTS.payments, 'dec-payments');
    const log = namedPool(PARTICIPANTS.seats, 'dec-log', 1);
    const c = new TwoPhaseCoordinator({
      id: 'dec',
      participants: { seats, payments },
      log,
      decisionInLogParticipant: false,
      prepareTimeoutMs: 1_000,
      responseTimeoutMs: RESPONSE_TIMEOUT_MS,
      // Everything prepared, the decision insert next, on the log pool's only connection: frozen now.
      faults: async (site) => {
        if (site.point === '2pc:before-decision') await freeze(PARTICIPANTS.seats, 'dec-log');
      },
    });
    await c.migrate();
    await log.query('SELECT 1'); // the log pool's one connection exists (and is idle) before the decision
    const error = await within(
      c.transaction(async (tx) => {
        await tx.query('seats', "INSERT INTO bookings (key) VALUES ('decision-frozen')");
        await tx.query('payments', "INSERT INTO bookings (key) VALUES ('decision-frozen')");
      }),
    ).catch((e: unknown) => e);
    // The insert never answered; the fence, on a new connection, decided abort, and the run obeyed.
    expect(error).toBeInstanceOf(TransactionAbortedError);
    expect((error as TransactionAbortedError).cause).toBeInstanceOf(ResponseTimeoutError);
    await thawAndRecover(c);
    expect(await copiesOf(dbs, 'decision-frozen')).toBe(0);
  });

  it('a recovery pass reports a participant that does not answer as unreachable instead of waiting for it', async () => {
    const seats = namedPool(PARTICIPANTS.seats, 'rec-seats');
    const payments = namedPool(PARTICIPANTS.payments, 'rec-payments', 1);
    const c = coordinator('rec', { seats, payments }, seats);
    await c.migrate();
    await payments.query('SELECT 1');
    await freeze(PARTICIPANTS.payments, 'rec-payments');
    const report = await within(c.recover());
    expect(report.unreachable.map((u) => u.participant)).toEqual(['payments']);
    expect(report.unreachable[0]!.error).toBeInstanceOf(ResponseTimeoutError);
  });
});
