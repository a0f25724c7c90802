import { describe, expect, it } from 'vitest';
import { libraryReportMarkdown } from '../src/library/library-report.js';
import type { CellSummary, LibraryBenchResult } from '../src/library/run-library-bench.js';
import type { LoadSample } from '../src/library/run-load.js';
import { summariseSamples } from '../src/library/run-load.js';
import { median } from '../src/stats/median.js';

const cell = { sweep: 'concurrency', contention: 'fresh', declineRate: 0, concurrency: 8 };

// One mode's rounds: `perRound[i]` bookings in 1 s in round i + 1, all confirmed.
function summary(mode: string, perRound: number[], latencyMs = 5): CellSummary {
  const samples: LoadSample[] = perRound.map((n, i) => ({
    mode,
    concurrency: 8,
    round: i + 1,
    durationMs: 1000,
    outcomes: { confirmed: n, rejected: 0, declined: 0, error: 0 },
    latenciesMs: [latencyMs],
  }));
  return { ...summariseSamples(samples), ...cell, compensates: false, inconsistency: [] };
}

function report(summaries: CellSummary[]): string {
  const result: LibraryBenchResult = {
    startedAt: 'start',
    finishedAt: 'end',
    options: { modes: ['local', 'saga'], sweeps: [], durationMs: 1000, rounds: 3, seatCount: 10 },
    server: {},
    modes: [
      { name: 'local', description: 'baseline', compensates: false },
      { name: 'saga', description: 'under test', compensates: true },
    ],
    summaries,
    audits: [],
    crashes: [],
  };
  return libraryReportMarkdown(result, 'local');
}

describe('library report', () => {
  it('shows the ratio to the baseline over the cell and the median of the per-round ratios', () => {
    // Rounds 1 and 2: saga at half of local; round 3 local had a bad moment (saga 2x). Merged: 750/1200 = 0.63;
    // per-round ratios 0.5, 0.5, 2.0: median 0.50.
    const markdown = report([summary('local', [500, 600, 100]), summary('saga', [250, 300, 200])]);
    const sagaRow = markdown.split('\n').find((line) => line.startsWith('| saga |'));
    expect(sagaRow).toContain('| 250 | 0.63 (0.50) |');
    const localRow = markdown.split('\n').find((line) => line.startsWith('| local |'));
    expect(localRow).toContain('| 1.00 (1.00) |');
  });

  it('shows the merged ratio alone for a single round', () => {
    const markdown = report([summary('local', [400]), summary('saga', [100])]);
    expect(markdown.split('\n').find((line) => line.startsWith('| saga |'))).toContain('| 100 | 0.25 |');
  });

  it('takes the median of an odd or even count', () => {
    expect(median([0.61, 0.48, 0.55])).toBe(0.55);
    expect(median([1, 4, 2, 3])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });

  it('shows saga / dbos and 2pc / dbos: median of the per-round throughput ratios and the p50 ratio', () => {
    // saga at 4x dbos in rounds 1 and 3, 1x in round 2 (median 4); 2pc at 2x in every round.
    const markdown = report([
      summary('local', [900, 900, 900]),
      summary('saga', [400, 100, 400], 10),
      summary('2pc', [200, 200, 200], 20),
      summary('dbos', [100, 100, 100], 40),
    ]);
    const lines = markdown.split('\n');
    expect(lines).toContain(
      '| sweep | contention | decline | clients | saga / dbos bookings/s | saga / dbos p50 | 2pc / dbos bookings/s | 2pc / dbos p50 |',
    );
    expect(lines).toContain('| concurrency | fresh | 0 % | 8 | 4.00× | 0.25× | 2.00× | 0.50× |');
  });

  it('has no peer section in a run without dbos', () => {
    expect(report([summary('local', [400]), summary('saga', [100])])).not.toContain('/ dbos');
  });
});
