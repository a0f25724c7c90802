import { randomUUID } from 'node:crypto';
import { createTestDatabases, type TestDatabases, testCluster } from 'txkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBenchSchema, resetBenchData } from '../src/library/bench-schema.js';
import type { BenchDatabases } from '../src/library/booking-mode.js';
import { dbosMode } from '../src/library/modes/dbos.js';
import { peerRatios } from '../src/library/peer-ratios.js';
import { runLibraryBench } from '../src/library/run-library-bench.js';

describe('dbos mode (DBOS Transact peer)', () => {
  let test: TestDatabases;
  let dbs: BenchDatabases;

  beforeAll(async () => {
    test = await createTestDatabases(testCluster(), 'bench dbos mode');
    dbs = { seats: test.on('a').pool, payments: test.on('b').pool, tickets: test.on('c').pool };
    await createBenchSchema(dbs, 10);
  });
  afterAll(() => test.drop());

  it('checkpoints each step of the workflow in its system tables in the seats database and counts their statements', async () => {
    await resetBenchData(dbs, 10);
    const mode = await dbosMode(dbs);
    try {
      await mode.reset?.(dbs);
      const booking = { bookingId: randomUUID(), seatId: 4, customerId: 1, amountCents: 900 };
      const taken = { ...booking, bookingId: randomUUID() };
      const declined = { ...booking, bookingId: randomUUID(), seatId: 5, declinePayment: true };
      expect(await mode.book(booking)).toBe('confirmed');
      expect(await mode.book(taken)).toBe('rejected');
      expect(await mode.book(declined)).toBe('declined');
      const steps = async (id: string) =>
        (
          await dbs.seats.query<{ function_name: string }>(
            'SELECT function_name FROM dbos.operation_outputs WHERE workflow_uuid = $1 ORDER BY function_id',
            [id],
          )
        ).rows.map((r) => r.function_name);
      expect(await steps(booking.bookingId)).toEqual(['seat', 'payment', 'ticket']);
      expect(await steps(taken.bookingId)).toEqual(['seat']);
      expect(await steps(declined.bookingId)).toEqual(['seat', 'payment', 'release-seat']);
      const status = await dbs.seats.query<{ status: string }>(
        'SELECT DISTINCT status FROM dbos.workflow_status',
      );
      expect(status.rows).toEqual([{ status: 'SUCCESS' }]);
      // At least the workflow's own row and one checkpoint per step: 1 + 5 statements over 3 bookings.
      expect(mode.logStatementsPerBooking?.()).toBeGreaterThanOrEqual(2);
      // The declined booking's seat was released by its compensation step.
      const seat5 = await dbs.seats.query('SELECT booking_id FROM seats WHERE id = 5');
      expect(seat5.rows).toEqual([{ booking_id: null }]);
    } finally {
      await mode.close?.();
    }
  });

  it('joins a library run with txkit saga, gives the peer ratios, and recovers its workflows after a kill -9', async () => {
    const result = await runLibraryBench({
      modes: ['saga', 'dbos'],
      sweeps: [{ label: 'smoke', contention: [{ kind: 'fresh' }], declineRates: [0.1], concurrency: [2] }],
      durationMs: 400,
      rounds: 1,
      seatCount: 2_000,
      crash: {
        modes: ['dbos'],
        concurrency: 2,
        contention: { kind: 'fresh' },
        declineRate: 0.1,
        killAfterSeconds: 1,
        afterRestartSeconds: 1,
      },
      pgUrls: ['a', 'b', 'c'].map((name) => test.on(name).connectionString).join(','),
      progress: () => {},
    });
    expect(result.audits.map((a) => a.report.violations)).toEqual([[], []]);
    const dbos = result.summaries.find((s) => s.mode === 'dbos');
    expect(dbos?.outcomes.confirmed).toBeGreaterThan(0);
    expect(dbos?.outcomes.error).toBe(0);
    expect(dbos?.cpuPerBooking?.postgres).toBeGreaterThan(0);
    expect(result.modes.find((m) => m.name === 'dbos')?.logStatementsPerBooking).toBeGreaterThan(0);
    const [ratio] = peerRatios(result);
    expect(ratio?.mode).toBe('saga');
    expect(ratio?.throughput).toBeGreaterThan(0);
    expect(ratio?.p50).toBeGreaterThan(0);
    // The crash cell: the restarted process's DBOS.launch() re-ran the killed one's pending workflows, and the
    // audit found every booking whole or undone.
    expect(result.crashes).toHaveLength(1);
    expect(result.crashes[0]).not.toHaveProperty('error');
    const crash = result.crashes[0] as Exclude<(typeof result.crashes)[number], { error: string }>;
    expect(crash.audit.violations).toEqual([]);
    expect(crash.audit.sagasUnfinished).toBe(0);
    // The kill waited for work in flight (the process frozen while counted): there was something to recover.
    expect(crash.inFlightAtKill).toBeGreaterThan(0);
    // Some workflow was in flight at the kill and finished by recovery: DBOS counts a recovery as an attempt more
    // than a workflow that ran through has (the crash cell's reset emptied the table before the first process).
    const attempts = await test
      .on('a')
      .pool.query<{ least: number; most: number }>(
        'SELECT min(recovery_attempts)::int AS least, max(recovery_attempts)::int AS most FROM dbos.workflow_status',
      );
    expect(attempts.rows[0]!.most).toBeGreaterThan(attempts.rows[0]!.least);
  }, 180_000);
});
