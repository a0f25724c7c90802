import type { CellConditions } from '../library/run-library-bench.js';
import type { LoadSample } from '../library/run-load.js';
import { median } from '../stats/median.js';
import type { StatementCount } from './statement-counter.js';

/**
 * An e2e cell's sample with where its time went besides the API instances: the HTTP client's CPU (the bench's
 * main thread), HAProxy's, and the bookings' own time inside the API (their waterfalls' `total_ms`: from the
 * first step to the outcome, without the request's parsing, session and admission, nor the HTTP hops).
 */
export type E2eSample = LoadSample & {
  reasons: Record<string, number>;
  clientCpuMs?: number;
  proxyCpuMs?: number;
  engineMs?: number[];
};

/** One round of one cell at both levels, measured back to back. */
export interface LevelComparison extends CellConditions {
  mode: string;
  round: number;
  library: LoadSample;
  e2e: E2eSample;
}

/** What one mode's bookings cost the seats database, statement by statement. */
export interface StatementCell {
  mode: string;
  bookings: number;
  confirmed: number;
  counts: StatementCount[];
}

/** One round of the scaling cells. */
export interface ScalingCell {
  instances: number;
  proxied: boolean;
  mode: string;
  round: number;
  sample: LoadSample;
}

const answered = (s: LoadSample) => s.outcomes.confirmed + s.outcomes.rejected + s.outcomes.declined;
const rate = (s: LoadSample) => answered(s) / (s.durationMs / 1000);
const nodeMs = (s: LoadSample) => (s.cpuMs ? s.cpuMs.node / Math.max(1, answered(s)) : undefined);
const fixed = (n: number | undefined, digits = 1) => (n === undefined ? '–' : n.toFixed(digits));
const pgMs = (s: LoadSample) => (s.cpuMs ? s.cpuMs.postgres / Math.max(1, answered(s)) : undefined);
const perAnswer = (s: LoadSample, ms: number | undefined) =>
  ms === undefined ? undefined : ms / Math.max(1, answered(s));
const p50 = (values: number[]) => median(values);

function timeTable(comparisons: LevelComparison[]): string[] {
  const lines = [
    '',
    "Where an e2e booking's time and CPU go, against the library level (medians of the rounds; CPU in ms per",
    "booking): *PG* the three PostgreSQL servers; *client* the bench's HTTP client (its main thread); *HAProxy*",
    "its process; *latency* the client's p50; *engine* the p50 of the bookings' own time inside the API (their",
    'waterfall: first step to outcome) — the rest of the latency is HTTP, HAProxy, the session and admission',
    'statements and the wait for the event loop.',
    '',
    '| mode | clients | library PG | e2e PG | API | client | HAProxy | library latency p50 | e2e latency p50 | engine p50 |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const rounds of byCell(comparisons)) {
    const c = rounds[0]!;
    const of = (f: (r: LevelComparison) => number | undefined) => median(rounds.flatMap((r) => f(r) ?? []));
    lines.push(
      `| ${c.mode} | ${c.concurrency} | ${fixed(
        of((r) => pgMs(r.library)),
        2,
      )} | ${fixed(
        of((r) => pgMs(r.e2e)),
        2,
      )} | ` +
        `${fixed(
          of((r) => nodeMs(r.e2e)),
          2,
        )} | ${fixed(
          of((r) => perAnswer(r.e2e, r.e2e.clientCpuMs)),
          2,
        )} | ` +
        `${fixed(
          of((r) => perAnswer(r.e2e, r.e2e.proxyCpuMs)),
          2,
        )} | ${fixed(
          of((r) => p50(r.library.latenciesMs)),
          1,
        )} | ` +
        `${fixed(
          of((r) => p50(r.e2e.latenciesMs)),
          1,
        )} | ${fixed(
          of((r) => (r.e2e.engineMs ? p50(r.e2e.engineMs) : undefined)),
          1,
        )} |`,
    );
  }
  return lines;
}

/** The rounds of each cell (mode and conditions), in the order the cells first appear. */
function byCell(comparisons: LevelComparison[]): LevelComparison[][] {
  const groups = new Map<string, LevelComparison[]>();
  for (const c of comparisons) {
    const key = `${c.mode}|${c.sweep}|${c.contention}|${c.declineRate}|${c.concurrency}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return [...groups.values()];
}

function comparisonTable(comparisons: LevelComparison[]): string[] {
  const lines = [
    '### End to end against the library level (same run, same servers, cell by cell)',
    '',
    'Each round runs the library-level mode and then the demo over HTTP through HAProxy (one API instance), back',
    "to back. *× library*: the median of the per-round ratios of bookings/s. *API CPU*: the API instance's process",
    "(all threads) per booking; *library CPU*: the load generator's main thread, txkit included, per booking.",
    '',
    '| mode | contention | decline | clients | library bookings/s | e2e bookings/s | × library | library CPU ms | API CPU ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const rounds of byCell(comparisons)) {
    const c = rounds[0]!;
    const ratios = rounds.filter((r) => rate(r.library) > 0).map((r) => rate(r.e2e) / rate(r.library));
    lines.push(
      `| ${c.mode} | ${c.contention} | ${c.declineRate * 100} % | ${c.concurrency} | ` +
        `${fixed(median(rounds.map((r) => rate(r.library))), 0)} | ${fixed(median(rounds.map((r) => rate(r.e2e))), 0)} | ` +
        `${fixed(median(ratios), 2)} | ${fixed(median(rounds.flatMap((r) => nodeMs(r.library) ?? [])), 2)} | ` +
        `${fixed(median(rounds.flatMap((r) => nodeMs(r.e2e) ?? [])), 2)} |`,
    );
  }
  return lines;
}

function statementTables(cells: StatementCell[]): string[] {
  const lines = [
    '### Seats-database statements per booking (pg_stat_statements)',
    '',
    'A 3-second cell per mode, 4 clients on fresh seats, without the concurrent reader; everything the seats server',
    "ran meanwhile (BEGIN, COMMIT, SET LOCAL and the API's background work included), per answered booking.",
    '',
  ];
  for (const cell of cells) {
    const per = (calls: number) => calls / Math.max(1, cell.bookings);
    const total = cell.counts.reduce((sum, c) => sum + c.calls, 0);
    lines.push(
      `**${cell.mode}**: ${fixed(per(total))} statements per booking (${cell.bookings} bookings, ${cell.confirmed} confirmed)`,
      '',
      '| per booking | statement |',
      '| ---: | --- |',
      ...cell.counts
        .filter((c) => per(c.calls) >= 0.05)
        .slice(0, 20)
        .map((c) => `| ${fixed(per(c.calls), 2)} | \`${c.query.slice(0, 140).replace(/\|/g, '\\|')}\` |`),
      '',
    );
  }
  return lines;
}

function scalingTable(cells: ScalingCell[]): string[] {
  const lines = [
    '### Scaling through HAProxy',
    '',
    '| mode | API instances | bookings/s (median of rounds) | × one instance | API CPU ms / booking |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const mode of new Set(cells.map((c) => c.mode))) {
    const of = (n: number) => cells.filter((c) => c.mode === mode && c.instances === n);
    const one = median(of(1).map((c) => rate(c.sample)));
    for (const n of new Set(cells.filter((c) => c.mode === mode).map((c) => c.instances))) {
      const r = median(of(n).map((c) => rate(c.sample)));
      lines.push(
        `| ${mode} | ${n}${of(n)[0]?.proxied ? '' : ' (no proxy)'} | ${fixed(r, 0)} | ${one && r !== undefined ? fixed(r / one, 2) : '–'} | ` +
          `${fixed(median(of(n).flatMap((c) => nodeMs(c.sample) ?? [])), 2)} |`,
      );
    }
  }
  return lines;
}

/**
 * The e2e run's own sections: the comparison with the library level, the seats database's statements per
 * booking, and the scaling over API instances.
 *
 * @example
 * const markdown = e2eExtrasMarkdown({ comparisons, statements, scaling });
 */
export function e2eExtrasMarkdown(o: {
  comparisons: LevelComparison[];
  statements: StatementCell[];
  scaling: ScalingCell[];
}): string {
  return [
    ...(o.comparisons.length > 0 ? [...comparisonTable(o.comparisons), ...timeTable(o.comparisons)] : []),
    '',
    ...(o.statements.length > 0 ? statementTables(o.statements) : []),
    ...(o.scaling.length > 0 ? scalingTable(o.scaling) : []),
  ].join('\n');
}
