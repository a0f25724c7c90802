import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InDoubtError, PrepareFailedError } from '../../src/errors.js';
import {
  createTestDatabases,
  type PostgresCluster,
  startPostgresCluster,
  type TestDatabases,
} from '../../src/testing/index.js';
import type { CommitPendingEvent } from '../../src/two-phase/events.js';
import {
  coordinatorOptions,
  copiesOf,
  createBookingTables,
  expectSettled,
  type LogMode,
  preparedLeft,
  recoverUntilClean,
  startCoordinator,
  writeBooking,
} from './support.js';

/**
 * A participant's server crashes (immediate stop: no shutdown checkpoint) in the middle of a transaction and is
 * started again. These tests own their servers, so stopping one does not disturb other test files.
 */
describe('2PC with a participant server crashing mid-transaction', () => {
  let cluster: PostgresCluster;
  let dbs: TestDatabases;

  beforeAll(async () => {
    cluster = await startPostgresCluster({ names: ['a', 'b', 'c'] });
    dbs = await createTestDatabases(cluster, '2pc server crash');
    await createBookingTables(dbs);
  });
  afterAll(async () => {
    await dbs?.drop();
    await cluster?.destroy();
  });

  it.each<LogMode>(['in-participant', 'separate'])(
    'tickets server dies between the decision and its commit (%s): caller gets the result, recovery commits',
    async (mode) => {
      const key = `server-after-decision-${mode}`;
      const coordinator = await startCoordinator(
        coordinatorOptions(dbs, mode, {
          id: `srv-${mode}`,
          faults: async (site) => {
            if (site.point === '2pc:after-decision') await cluster.instance('c').stop({ mode: 'immediate' });
          },
        }),
      );
      const pending: CommitPendingEvent[] = [];
      coordinator.on('commit-pending', (e) => pending.push(e));
      await expect(coordinator.transaction(writeBooking(key))).resolves.toBe(key);
      expect(pending.map((p) => p.participant)).toEqual(['tickets']);

      // While the server is down, recovery reports it unreachable and deletes nothing.
      const down = await coordinator.recover();
      expect(down.unreachable.map((u) => u.participant)).toEqual(['tickets']);
      expect(coordinator.inDoubtCount).toBe(1);

      await cluster.instance('c').start();
      // The prepared branch survived the crash; recovery commits it.
      const report = await coordinator.recover();
      expect(report.committed).toEqual([pending[0]!.gid]);
      expect(coordinator.inDoubtCount).toBe(0);
      await expectSettled(dbs, key, 3);
    },
  );

  it('payments server dies before its PREPARE: aborted everywhere, nothing prepared survives', async () => {
    const key = 'server-before-prepare';
    const coordinator = await startCoordinator(
      coordinatorOptions(dbs, 'separate', {
        id: 'srv-prepare',
        faults: async (site) => {
          if (site.point === '2pc:before-prepare' && site.participant === 'payments') {
            await cluster.instance('b').stop({ mode: 'immediate' });
          }
        },
      }),
    );
    const error = await coordinator.transaction(writeBooking(key)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrepareFailedError);
    expect((error as PrepareFailedError).context.participant).toBe('payments');
    await cluster.instance('b').start();
    await expectSettled(dbs, key, 0);
  });

  it('the log server (separate log) dies after the decision: the decision survives and recovery commits', async () => {
    const key = 'log-server-crash';
    const coordinator = await startCoordinator(
      coordinatorOptions(dbs, 'separate', {
        id: 'srv-log',
        faults: async (site) => {
          if (site.point === '2pc:after-decision') await cluster.instance('a').restart({ mode: 'immediate' });
        },
      }),
    );
    // The seats branch lives on the crashed server too: its COMMIT PREPARED is retried on a fresh connection.
    await expect(coordinator.transaction(writeBooking(key))).resolves.toBe(key);
    await coordinator.recover();
    await expectSettled(dbs, key, 3);
    expect(await copiesOf(dbs, key)).toBe(3);
    expect(await preparedLeft(dbs)).toEqual([]);
  });

  it.each<LogMode>(['in-participant', 'separate'])(
    'the log server dies before the decision (%s): the caller gets InDoubtError, recovery aborts',
    async (mode) => {
      const key = `log-server-before-decision-${mode}`;
      const coordinator = await startCoordinator(
        coordinatorOptions(dbs, mode, {
          id: `srv-in-doubt-${mode}`,
          faults: async (site) => {
            if (site.point === '2pc:before-decision') await cluster.instance('a').stop({ mode: 'immediate' });
          },
        }),
      );
      const error = await coordinator.transaction(writeBooking(key)).catch((e: unknown) => e);
      // The decision write failed on a broken connection and the fence could not reach the log either.
      expect(error).toBeInstanceOf(InDoubtError);
      const prepared = mode === 'in-participant' ? 2 : 3;
      expect(coordinator.inDoubtCount).toBe(prepared);
      await cluster.instance('a').start();
      // No decision was recorded, so once past the prepare timeout recovery aborts every prepared branch.
      const reports = await recoverUntilClean(coordinator, dbs);
      expect(reports.flatMap((r) => r.aborted)).toHaveLength(prepared);
      expect(coordinator.inDoubtCount).toBe(0);
      await expectSettled(dbs, key, 0);
    },
  );
});
