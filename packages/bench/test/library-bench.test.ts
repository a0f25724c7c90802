import { createTestDatabases, type TestDatabases, testCluster } from 'txkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLibraryBench } from '../src/library/run-library-bench.js';

describe('library bench run', () => {
  let test: TestDatabases;

  beforeAll(async () => {
    test = await createTestDatabases(testCluster(), 'bench library run');
  });
  afterAll(() => test.drop());

  it('measures every mode, audits every cell, survives a crash cell, and keeps the per-booking figures', async () => {
    const lines: string[] = [];
    const result = await runLibraryBench({
      modes: ['raw-saga', 'saga'],
      sweeps: [{ label: 'smoke', contention: [{ kind: 'fresh' }], declineRates: [0.1], concurrency: [2] }],
      durationMs: 400,
      rounds: 1,
      seatCount: 2_000,
      crash: {
        modes: ['saga'],
        concurrency: 2,
        contention: { kind: 'fresh' },
        declineRate: 0,
        killAfterSeconds: 1,
        afterRestartSeconds: 1,
      },
      pgUrls: ['a', 'b', 'c'].map((name) => test.on(name).connectionString).join(','),
      progress: (line) => lines.push(line),
    });
    expect(result.audits.map((a) => a.report.violations)).toEqual([[], []]);
    expect(result.crashes).toHaveLength(1);
    expect(result.crashes[0]).not.toHaveProperty('error');
    // Killed with sagas in flight (the kill waits for some, the process frozen while they are counted).
    expect((result.crashes[0] as { inFlightAtKill?: number }).inFlightAtKill).toBeGreaterThan(0);
    for (const summary of result.summaries) {
      expect(summary.outcomes.confirmed).toBeGreaterThan(0);
      expect(summary.outcomes.error).toBe(0);
      // The test servers run on this machine, so the CPU meter sees them.
      expect(summary.cpuPerBooking?.node).toBeGreaterThan(0);
      expect(summary.cpuPerBooking?.postgres).toBeGreaterThan(0);
    }
    // Counted over the measured cell, not zeroed by the crash cell's reset (it books in a child process). Not a
    // fixed figure: the runner's group commit writes the records of concurrent sagas in one statement.
    const saga = result.modes.find((m) => m.name === 'saga');
    expect(saga?.logStatementsPerBooking).toBeGreaterThan(0);
    expect(lines.some((line) => line.includes('ms/booking') && line.includes('audit ok'))).toBe(true);
  }, 120_000);
});
