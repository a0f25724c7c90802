import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransactionTimeoutError } from '../../src/errors.js';
import type { FaultPoint } from '../../src/faults.js';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';
import { TwoPhaseCoordinator } from '../../src/two-phase/coordinator.js';
import type { TwoPhaseCoordinatorOptions } from '../../src/two-phase/coordinator-options.js';
import { fenceAbort } from '../../src/two-phase/fence.js';
import { formatGid, newTransactionId } from '../../src/two-phase/gid.js';
import {
  coordinatorOptions,
  copiesOf,
  crashAt,
  createBookingTables,
  expectSettled,
  type LogMode,
  preparedLeft,
  startCoordinator,
  writeBooking,
} from './support.js';

describe('2PC recovery', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, '2pc recovery');
    await createBookingTables(dbs);
  });
  afterAll(() => dbs.drop());

  /** Runs a transaction that "dies" at `point`; returns its transaction id. */
  async function orphan(
    id: string,
    point: FaultPoint,
    key: string,
    mode: LogMode = 'separate',
    extra: Partial<TwoPhaseCoordinatorOptions> = {},
  ) {
    let transactionId = '';
    const coordinator = await startCoordinator(
      coordinatorOptions(dbs, mode, {
        ...extra,
        id,
        faults: (site) => {
          transactionId = site.id;
          crashAt(point)(site);
        },
      }),
    );
    await expect(coordinator.transaction(writeBooking(key))).rejects.toThrow(/simulated crash/);
    return transactionId;
  }

  it('two recoverers at once finish every branch exactly once, each transaction all or nothing', async () => {
    const decided = ['r2-d1', 'r2-d2', 'r2-d3'];
    const undecided = ['r2-u1', 'r2-u2', 'r2-u3'];
    for (const key of decided) await orphan('pair', '2pc:after-decision', key);
    for (const key of undecided) await orphan('pair', '2pc:before-decision', key);
    const left = await preparedLeft(dbs);
    expect(left).toHaveLength(18);
    await sleep(1_100); // past the prepare timeout: the undecided ones may now be aborted

    const one = await startCoordinator(coordinatorOptions(dbs, 'separate', { id: 'pair' }));
    const two = await startCoordinator(coordinatorOptions(dbs, 'separate', { id: 'pair' }));
    const [r1, r2] = await Promise.all([one.recover(), two.recover()]);
    const finished = [...r1.committed, ...r1.aborted, ...r2.committed, ...r2.aborted];
    // Every branch finished by exactly one of them; the other saw "does not exist" or "busy".
    const retried = [...r1.failed, ...r2.failed].map((f) => f.gid);
    expect(new Set(finished).size).toBe(finished.length);
    if (retried.length > 0) await one.recover();
    expect(await preparedLeft(dbs)).toEqual([]);
    for (const key of decided) expect(await copiesOf(dbs, key)).toBe(3);
    for (const key of undecided) expect(await copiesOf(dbs, key)).toBe(0);
    expect([...r1.committed, ...r2.committed]).toHaveLength(9);
  });

  it.each<LogMode>(['in-participant', 'separate'])(
    'fencing (%s): recovery aborts a slow live coordinator past its timeout, and the coordinator obeys',
    async (mode) => {
      const key = `fenced-${mode}`;
      let release: () => void = () => {};
      const paused = new Promise<void>((resolve) => {
        release = resolve;
      });
      let atDecision: () => void = () => {};
      const reachedDecision = new Promise<void>((resolve) => {
        atDecision = resolve;
      });
      const slow = await startCoordinator(
        coordinatorOptions(dbs, mode, {
          id: `slow-${mode}`,
          faults: async (site) => {
            if (site.point !== '2pc:before-decision') return;
            atDecision();
            await paused; // a stall (GC pause, overloaded host) between prepare and decision
          },
        }),
      );
      const running = slow.transaction(writeBooking(key)).catch((e: unknown) => e);
      await reachedDecision;
      // Younger than the prepare timeout: recovery must leave it alone. (A recoverer whose timeout cannot pass
      // during this check, however slow the machine; the one after it has the coordinator's own 1 s.)
      const patient = await startCoordinator(
        coordinatorOptions(dbs, mode, { id: `slow-${mode}`, prepareTimeoutMs: 600_000 }),
      );
      const early = await patient.recover();
      expect(early.aborted).toEqual([]);
      expect(early.waiting.length).toBeGreaterThan(0);
      const recoverer = await startCoordinator(coordinatorOptions(dbs, mode, { id: `slow-${mode}` }));
      await sleep(1_100); // a lower bound: past the 1 s prepare timeout by the servers' clocks too
      const late = await recoverer.recover();
      expect(late.aborted).toHaveLength(mode === 'in-participant' ? 2 : 3);
      release();
      const error = await running;
      expect(error).toBeInstanceOf(TransactionTimeoutError);
      await expectSettled(dbs, key, 0);
      const { rows } = await dbs
        .on('a')
        .pool.query('SELECT outcome FROM txkit.two_phase_decisions WHERE coordinator_id = $1', [
          `slow-${mode}`,
        ]);
      expect(rows).toEqual([{ outcome: 'abort' }]);
    },
  );

  it('the fence waits for an in-flight commit decision and obeys it instead of deciding past it', async () => {
    const pool = dbs.on('a').pool;
    const transactionId = newTransactionId();
    const writer = await pool.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(
        `INSERT INTO txkit.two_phase_decisions (transaction_id, coordinator_id, outcome, participants)
         VALUES ($1, 'fence', 'commit', '{seats}')`,
        [transactionId],
      );
      const fence = fenceAbort(pool, {
        schema: 'txkit',
        transactionId,
        coordinatorId: 'fence',
        participants: ['seats'],
        lockTimeoutMs: 5_000,
      });
      const state = await Promise.race([fence.then(() => 'settled'), sleep(300).then(() => 'waiting')]);
      expect(state).toBe('waiting');
      await writer.query('COMMIT');
      await expect(fence).resolves.toBe('commit');
    } finally {
      writer.release();
    }
  });

  it('leaves a live coordinator its branches, takes over a dead one, reports unknown ones, skips foreign gids', async () => {
    const seats = dbs.on('a').pool;
    const endLease = (id: string) =>
      seats.query('UPDATE txkit.two_phase_coordinators SET lease_until = now() WHERE coordinator_id = $1', [
        id,
      ]);
    // Decided commit, undecided past its prepare timeout: both kinds a dead coordinator leaves behind.
    await orphan('other', '2pc:after-decision', 'other-decided');
    await orphan('other', '2pc:before-decision', 'other-undecided', 'separate', { prepareTimeoutMs: 1_500 });
    // A coordinator with no lease in this log (its decisions may live in another log).
    await orphan('stranger', '2pc:after-decision', 'stranger-decided');
    await seats.query("DELETE FROM txkit.two_phase_coordinators WHERE coordinator_id = 'stranger'");
    const pool = dbs.on('b').pool;
    const foreign = await pool.connect();
    try {
      await foreign.query('BEGIN');
      await foreign.query("INSERT INTO bookings (key) VALUES ('not-ours')");
      // Looks like ours but is not a txkit gid (wrong transaction id shape): must never be touched.
      await foreign.query("PREPARE TRANSACTION 'tx:mine:not-a-transaction-id:payments'");
    } finally {
      foreign.release();
    }
    const mine = await startCoordinator(coordinatorOptions(dbs, 'separate', { id: 'mine' }));
    await sleep(1_600); // past both prepare timeouts: only the leases now keep the branches from this recoverer

    // 'other' is alive (its lease holds): its branches are its own recovery's business.
    const live = await mine.recover();
    expect(live).toMatchObject({ committed: [], aborted: [], takenOver: [] });
    expect(live.unowned).toHaveLength(3);

    // Its lease ends (as when the process dies and stops renewing it): taken over, with the decisions it left.
    await endLease('other');
    const takeover = await mine.recover();
    expect(takeover.takenOver).toEqual(['other']);
    expect(takeover.committed).toHaveLength(3);
    expect(takeover.aborted).toHaveLength(3);
    expect(await copiesOf(dbs, 'other-decided')).toBe(3);
    expect(await copiesOf(dbs, 'other-undecided')).toBe(0);
    expect(takeover.unowned).toHaveLength(3);
    expect(await copiesOf(dbs, 'stranger-decided')).toBe(0);

    // The stranger only when asked for every coordinator; the foreign gid never.
    const all = await mine.recover({ allCoordinators: true });
    expect(all.committed).toHaveLength(3);
    expect(await copiesOf(dbs, 'stranger-decided')).toBe(3);
    expect(await preparedLeft(dbs)).toEqual(['tx:mine:not-a-transaction-id:payments']);
    await pool.query("ROLLBACK PREPARED 'tx:mine:not-a-transaction-id:payments'");
  });

  it("waits out a dead coordinator's own prepare timeout when it is longer than the taker's", async () => {
    const key = 'long-timeout';
    await orphan('patient', '2pc:before-decision', key, 'separate', { prepareTimeoutMs: 60_000 });
    await dbs
      .on('a')
      .pool.query(
        "UPDATE txkit.two_phase_coordinators SET lease_until = now() WHERE coordinator_id = 'patient'",
      );
    const taker = await startCoordinator(coordinatorOptions(dbs, 'separate', { id: 'impatient' }));
    await sleep(1_100); // past the taker's own prepare timeout (1 s), far from the dead one's (60 s)
    const report = await taker.recover();
    expect(report).toMatchObject({ takenOver: ['patient'], aborted: [] });
    expect(report.waiting).toHaveLength(3);
    await dbs
      .on('a')
      .pool.query(
        "UPDATE txkit.two_phase_coordinators SET prepare_timeout_ms = 1000 WHERE coordinator_id = 'patient'",
      );
    expect((await taker.recover()).aborted).toHaveLength(3);
    await expectSettled(dbs, key, 0);
  });

  it('deletes expired decisions, but never one whose transaction still has a prepared branch', async () => {
    const coordinator = await startCoordinator(
      coordinatorOptions(dbs, 'separate', { id: 'retention', decisionRetentionMs: 10_000 }),
    );
    await coordinator.transaction(writeBooking('retention-done'));
    // A committed transaction whose tickets branch is still prepared (say, that server was down).
    let pendingTx = '';
    const stuck = await startCoordinator(
      coordinatorOptions(dbs, 'separate', {
        id: 'retention',
        decisionRetentionMs: 10_000,
        commitAttempts: 1,
        faults: (site) => {
          pendingTx = site.id;
          if (site.point === '2pc:before-commit' && site.participant === 'tickets') throw new Error('down');
        },
      }),
    );
    await stuck.transaction(writeBooking('retention-pending'));
    await dbs
      .on('a')
      .pool.query(
        "UPDATE txkit.two_phase_decisions SET created_at = now() - interval '1 hour' WHERE coordinator_id = 'retention'",
      );
    // Recovery of another coordinator id must not delete these rows; the scan covers only its own gids.
    await (await startCoordinator(coordinatorOptions(dbs, 'separate', { id: 'bystander' }))).recover();
    const count = async () =>
      (
        await dbs
          .on('a')
          .pool.query(
            "SELECT transaction_id FROM txkit.two_phase_decisions WHERE coordinator_id = 'retention'",
          )
      ).rows.map((r) => r.transaction_id);
    expect(await count()).toHaveLength(2);

    // The tickets branch is still prepared, so its (expired) commit decision must stay.
    const gid = formatGid({ coordinatorId: 'retention', transactionId: pendingTx, participant: 'tickets' });
    expect(await preparedLeft(dbs)).toEqual([gid]);
    const report = await coordinator.recover();
    // The pass commits the pending branch (decision read before cleanup) and deletes only the finished row.
    expect(report.committed).toEqual([gid]);
    expect(report.deletedDecisions).toBe(1);
    expect(await count()).toEqual([pendingTx]);
    await expectSettled(dbs, 'retention-pending', 3);
    // Next pass: nothing prepared any more, so the last expired row goes too.
    expect((await coordinator.recover()).deletedDecisions).toBe(1);
    expect(await count()).toEqual([]);
  });

  it("deletes a long-dead coordinator's expired decisions and lease, but not decisions naming databases it cannot see", async () => {
    const seats = dbs.on('a').pool;
    const gone = await startCoordinator(
      coordinatorOptions(dbs, 'separate', { id: 'gone', decisionRetentionMs: 10_000 }),
    );
    await gone.transaction(writeBooking('gone-done'));
    // A decision of the same dead coordinator naming a participant this recoverer does not have.
    await seats.query(
      `INSERT INTO txkit.two_phase_decisions (transaction_id, coordinator_id, outcome, participants)
       VALUES ('elsewhere', 'gone', 'commit', ARRAY['seats', 'invoices'])`,
    );
    await seats.query(
      "UPDATE txkit.two_phase_decisions SET created_at = now() - interval '1 hour' WHERE coordinator_id = 'gone'",
    );
    await seats.query(
      "UPDATE txkit.two_phase_coordinators SET lease_until = now() - interval '1 hour' WHERE coordinator_id = 'gone'",
    );
    const taker = await startCoordinator(
      coordinatorOptions(dbs, 'separate', { id: 'cleaner', decisionRetentionMs: 10_000 }),
    );
    const decisionsOf = async () =>
      (
        await seats.query(
          "SELECT transaction_id FROM txkit.two_phase_decisions WHERE coordinator_id = 'gone'",
        )
      ).rows.map((r) => r.transaction_id);
    const leaseOf = async () =>
      (await seats.query("SELECT 1 FROM txkit.two_phase_coordinators WHERE coordinator_id = 'gone'"))
        .rowCount;

    expect((await taker.recover()).deletedDecisions).toBe(1);
    expect(await decisionsOf()).toEqual(['elsewhere']);
    expect(await leaseOf()).toBe(1); // a decision of it remains: still known
    await seats.query("DELETE FROM txkit.two_phase_decisions WHERE transaction_id = 'elsewhere'");
    await taker.recover();
    expect(await leaseOf()).toBe(0);
  });

  it('runs as a background service: events for what it recovers, errors as events, stop() waits', async () => {
    const key = 'background';
    await orphan('service', '2pc:after-decision', key);
    const coordinator = await startCoordinator(coordinatorOptions(dbs, 'separate', { id: 'service' }));
    const recovered: string[] = [];
    coordinator.on('recovered', (e) => recovered.push(e.gid));
    const service = coordinator.startRecovery({ intervalMs: 50 });
    await expect.poll(() => recovered.length, { timeout: 5_000 }).toBe(3);
    await service.stop();
    await expectSettled(dbs, key, 3);

    // A pass that fails (the log schema does not exist) is an 'error' event, not an unhandled rejection.
    const broken = await startCoordinator(coordinatorOptions(dbs, 'separate', { id: 'service' }));
    const misconfigured = new TwoPhaseCoordinator(
      coordinatorOptions(dbs, 'separate', { id: 'service', schema: 'no_such_schema' }),
    );
    await orphan('service', '2pc:before-decision', 'background-2');
    const errors: unknown[] = [];
    misconfigured.on('error', (e) => errors.push(e));
    const failing = misconfigured.startRecovery({ intervalMs: 50 });
    await expect.poll(() => errors.length, { timeout: 5_000 }).toBeGreaterThan(0);
    await failing.stop();
    expect(errors[0]).toMatchObject({ code: '42P01' });
    await sleep(1_100);
    await broken.recover();
    await expectSettled(dbs, 'background-2', 0);
  });
});
