import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrepareFailedError } from '../../src/errors.js';
import { type FaultPoint, isSimulatedCrash } from '../../src/faults.js';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';
import type { CommitPendingEvent } from '../../src/two-phase/events.js';
import {
  coordinatorOptions,
  copiesOf,
  crashAt,
  createBookingTables,
  expectSettled,
  expireLease,
  type LogMode,
  PARTICIPANTS,
  preparedLeft,
  recoverUntilClean,
  startCoordinator,
  writeBooking,
} from './support.js';

/** A crash point, and whether the transaction must end committed (3 copies) or aborted (0) after recovery. */
interface CrashCase {
  point: FaultPoint;
  participant?: string;
  copies: 0 | 3;
  /** Prepared branches left right after the crash, per log mode (before recovery). */
  leftPrepared: Record<LogMode, number>;
}

// Prepares and commits run in parallel and a crash in one participant's hook waits for the others' statements
// in flight, so what is left prepared after each crash is deterministic.
const CASES: CrashCase[] = [
  // Dies before tickets prepares: payments (and seats, when it is prepared) are prepared, tickets is not; its
  // branch dies with its connection.
  {
    point: '2pc:before-prepare',
    participant: 'tickets',
    copies: 0,
    leftPrepared: { 'in-participant': 1, separate: 2 },
  },
  // Dies after the prepares, no decision.
  {
    point: '2pc:after-prepare',
    participant: 'payments',
    copies: 0,
    leftPrepared: { 'in-participant': 2, separate: 3 },
  },
  // Dies with everything prepared, just before the decision (in-participant: the seats branch, which carries
  // the decision, is still open and dies with the process).
  { point: '2pc:before-decision', copies: 0, leftPrepared: { 'in-participant': 2, separate: 3 } },
  // Dies right after the durable decision, before any COMMIT PREPARED.
  { point: '2pc:after-decision', copies: 3, leftPrepared: { 'in-participant': 2, separate: 3 } },
  // Dies after some commits: the others committed, tickets did not.
  {
    point: '2pc:before-commit',
    participant: 'tickets',
    copies: 3,
    leftPrepared: { 'in-participant': 1, separate: 1 },
  },
  // Dies after the last commit: nothing left, nothing for recovery to do.
  {
    point: '2pc:after-commit',
    participant: 'tickets',
    copies: 3,
    leftPrepared: { 'in-participant': 0, separate: 0 },
  },
];

describe('2PC crash points: after recovery, all or nothing and no prepared transaction left', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, '2pc crash points');
    await createBookingTables(dbs);
  });
  afterAll(() => dbs.drop());

  describe.each<LogMode>(['in-participant', 'separate'])('decision log %s', (mode) => {
    it.each(CASES)('crash at $point $participant', async ({ point, participant, copies, leftPrepared }) => {
      const id = `crash-${mode}`;
      const key = `${mode}-${point}-${participant ?? ''}`;
      const faults = crashAt(point, participant);
      // Its prepare timeout cannot pass during the test, so that its branches are certainly young at the first
      // recovery pass; it is lowered afterwards, as if that much time had gone by.
      const coordinator = await startCoordinator(
        coordinatorOptions(dbs, mode, { id, faults, prepareTimeoutMs: 10 * 60_000 }),
      );
      const error = await coordinator.transaction(writeBooking(key)).catch((e: unknown) => e);
      expect(isSimulatedCrash(error)).toBe(true);

      // The "dead" process left exactly the expected prepared branches, and nothing is visible half-way.
      const left = await preparedLeft(dbs);
      expect(left).toHaveLength(leftPrepared[mode]);
      if (copies === 0) expect(await copiesOf(dbs, key)).toBe(0);

      // The process is restarted as deployments do it: under a new id, once the dead one's lease expired.
      await expireLease(dbs, id);
      const restarted = await startCoordinator(coordinatorOptions(dbs, mode, { id: `${id}-successor` }));
      const first = await restarted.recover();
      if (copies === 0) {
        // Undecided and younger than the prepare timeout: the first pass must leave them alone.
        expect(first.aborted).toEqual([]);
        expect([...first.waiting].sort()).toEqual([...left].sort());
      }
      await dbs
        .on(PARTICIPANTS.seats)
        .pool.query(
          'UPDATE txkit.two_phase_coordinators SET prepare_timeout_ms = 1000 WHERE coordinator_id = $1',
          [id],
        );
      const reports = [first, ...(await recoverUntilClean(restarted, dbs))];
      await expectSettled(dbs, key, copies);
      const done = reports.flatMap((r) => (copies === 3 ? r.committed : r.aborted));
      expect(done.sort()).toEqual(left.sort());
      expect(restarted.inDoubtCount).toBe(0);
    });
  });

  it.each<LogMode>(['in-participant', 'separate'])(
    'a crash after a read-only participant was committed and before the writers prepared leaves nothing (%s)',
    async (mode) => {
      const id = `crash-read-only-${mode}`;
      const key = `crash-read-only-${mode}`;
      const coordinator = await startCoordinator(
        coordinatorOptions(dbs, mode, { id, faults: crashAt('2pc:before-prepare', 'payments') }),
      );
      const error = await coordinator
        .transaction(async (tx) => {
          await tx.query('tickets', 'SELECT count(*) FROM bookings');
          await writeBooking(key, ['seats', 'payments'])(tx);
        })
        .catch((e: unknown) => e);
      expect(isSimulatedCrash(error)).toBe(true);
      // The read-only branch kept nothing; the writers were not prepared and died with their connections.
      await expireLease(dbs, id);
      const restarted = await startCoordinator(coordinatorOptions(dbs, mode, { id: `${id}-successor` }));
      await recoverUntilClean(restarted, dbs);
      await expectSettled(dbs, key, 0);
    },
  );

  it.each<LogMode>(['in-participant', 'separate'])(
    'a failure injected before prepare aborts at once (%s), nothing left for recovery',
    async (mode) => {
      const key = `fail-before-prepare-${mode}`;
      const coordinator = await startCoordinator(
        coordinatorOptions(dbs, mode, {
          id: `fail-${mode}`,
          faults: (site) => {
            if (site.point === '2pc:before-prepare' && site.participant === 'payments')
              throw new Error('injected');
          },
        }),
      );
      const error = await coordinator.transaction(writeBooking(key)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PrepareFailedError);
      await expectSettled(dbs, key, 0);
    },
  );

  it.each<LogMode>(['in-participant', 'separate'])(
    'a COMMIT PREPARED that keeps failing is left to recovery (%s): caller gets the result, never a rollback',
    async (mode) => {
      const key = `commit-pending-${mode}`;
      const coordinator = await startCoordinator(
        coordinatorOptions(dbs, mode, {
          id: `pending-${mode}`,
          commitAttempts: 2,
          faults: (site) => {
            if (site.point === '2pc:before-commit' && site.participant === 'tickets') throw new Error('busy');
          },
        }),
      );
      const pending: CommitPendingEvent[] = [];
      coordinator.on('commit-pending', (e) => pending.push(e));
      await expect(coordinator.transaction(writeBooking(key))).resolves.toBe(key);
      expect(pending.map((p) => p.participant)).toEqual(['tickets']);
      expect(coordinator.inDoubtCount).toBe(1);
      expect(await preparedLeft(dbs)).toEqual([pending[0]!.gid]);
      // Committed where it could be, and the decision stands: recovery commits the rest even though the
      // prepare timeout has not passed (the decision exists, so there is nothing to wait for).
      const report = await coordinator.recover();
      expect(report.committed).toEqual([pending[0]!.gid]);
      expect(coordinator.inDoubtCount).toBe(0);
      await expectSettled(dbs, key, 3);
    },
  );
});
