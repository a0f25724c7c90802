import { createTestDatabases, type TestDatabases, testCluster } from 'txkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLayoutsMarkdown, runLogLayouts } from '../src/library/log-layouts.js';

describe('log-layouts', () => {
  let test: TestDatabases;

  beforeAll(async () => {
    test = await createTestDatabases(testCluster(), 'bench log layouts');
  });
  afterAll(() => test.drop());

  it('measures every layout on a real server and writes each one’s rows', async () => {
    const results = await runLogLayouts({ sagas: 40, rounds: 1, pgUrl: test.on('a').connectionString });
    const byName = Object.fromEntries(results.map((r) => [r.layout, r]));
    expect(Object.keys(byName)).toEqual(['floor', 'txkit', 'txkit-no-record', 'txkit-no-end', 'lease-table']);
    for (const r of results) {
      expect(Number.isFinite(r.serverCpuUs) && r.serverCpuUs >= 0).toBe(true);
      expect(r.walBytes).toBeGreaterThan(0);
    }
    // txkit's row, its record and its end are more to log than the floor's one narrow row.
    expect(byName.txkit!.walBytes).toBeGreaterThan(byName.floor!.walBytes);
    expect(byName.txkit!.walBytes).toBeGreaterThan(byName['txkit-no-end']!.walBytes);
    // The last layout run, the lease table's, ended every saga: all completed, no lease left.
    const { rows } = await test.on('a').pool.query<{ completed: number; leases: number }>(
      `SELECT (SELECT count(*) FROM lt.saga WHERE status = 'completed')::int AS completed,
              (SELECT count(*) FROM lt.lease)::int AS leases`,
    );
    expect(rows[0]).toEqual({ completed: 40, leases: 0 });
    expect(logLayoutsMarkdown(results)).toContain('| `floor` |');
  }, 120_000);
});
