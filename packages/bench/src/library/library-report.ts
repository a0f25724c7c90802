import { barChartSvg, type ChartPoint, lineChartSvg } from '../report/charts.js';
import type { ReportChart } from '../report/write-report.js';
import { median } from '../stats/median.js';
import { cellFigures } from './cell-figures.js';
import { cpuText } from './cpu-meter.js';
import { peerRatioMarkdown } from './peer-ratios.js';
import { pairedRoundRatios } from './round-ratios.js';
import type { CellSummary, LibraryBenchResult } from './run-library-bench.js';

const fixed = (n: number, digits = 1) => n.toFixed(digits);
const percent = (n: number) => `${(n * 100).toFixed(1)} %`;
const conditionOf = (s: CellSummary) => `${s.contention}, decline ${s.declineRate * 100} %`;

function sweepTable(result: LibraryBenchResult, sweep: string, baseline: string): string[] {
  const lines = [
    `| mode | contention | decline | clients | bookings/s | × ${baseline} | confirmed/s | seat taken | declined | errors | aborts | compensations | p50 ms | p90 ms | p99 ms | max ms | mixed / 1k | window p50 / max ms | CPU ms / booking |`,
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const s of result.summaries.filter((x) => x.sweep === sweep)) {
    const base = result.summaries.find(
      (b) =>
        b.mode === baseline &&
        b.sweep === s.sweep &&
        b.contention === s.contention &&
        b.declineRate === s.declineRate &&
        b.concurrency === s.concurrency,
    );
    const ratio = base ? ratioText(s, base) : '–';
    const f = cellFigures(s);
    lines.push(
      `| ${s.mode} | ${s.contention} | ${s.declineRate * 100} % | ${s.concurrency} | ${fixed(s.bookingsPerSecond, 0)} | ${ratio} | ` +
        `${fixed(s.confirmedPerSecond, 0)} | ${s.outcomes.rejected} | ${s.outcomes.declined} | ${s.outcomes.error} | ` +
        `${percent(f.abortRate)} | ${percent(f.compensationRate)} | ${fixed(s.latency.p50, 2)} | ${fixed(s.latency.p90, 2)} | ` +
        `${fixed(s.latency.p99, 2)} | ${fixed(s.latency.max, 1)} | ${fixed(f.mixedPerThousand, 1)} | ` +
        `${fixed(f.windowP50Ms, 1)} / ${fixed(f.windowMaxMs, 1)} | ${cpuText(s.cpuPerBooking)} |`,
    );
  }
  return lines;
}

// Throughput over the baseline's: over the whole cell, and — with several rounds — the median of the per-round
// ratios in parentheses (each round pairs two modes measured minutes apart at most, so a noisy round moves the
// merged ratio more than the median).
function ratioText(s: CellSummary, base: CellSummary): string {
  if (base.bookingsPerSecond <= 0) return '–';
  const merged = fixed(s.bookingsPerSecond / base.bookingsPerSecond, 2);
  const perRound = pairedRoundRatios(s, base);
  const middle = perRound.length > 1 ? median(perRound) : undefined;
  return middle === undefined ? merged : `${merged} (${fixed(middle, 2)})`;
}

/**
 * Markdown of a library-level run: per sweep, a table of throughput (and its ratio to the baseline in the same
 * run), outcomes, abort and compensation rates, latency percentiles and the inconsistency window; then the
 * crash-injection cells and the audits.
 */
export function libraryReportMarkdown(
  result: LibraryBenchResult,
  baseline: string,
  nodeCpu = "the load generator's main thread (the library included)",
): string {
  const o = result.options;
  const lines = [
    `Library-level booking bench, ${result.startedAt} – ${result.finishedAt}`,
    '',
    `PostgreSQL ${result.server.server_version ?? '?'}; fsync=${result.server.fsync}, synchronous_commit=${result.server.synchronous_commit}, ` +
      `wal_sync_method=${result.server.wal_sync_method}, shared_buffers=${result.server.shared_buffers}; ` +
      `${o.rounds} interleaved, rotated round(s) of ${o.durationMs / 1000} s per cell; ${o.seatCount} seats.`,
    '',
    'Modes: ' + result.modes.map((m) => `**${m.name}** — ${m.description}`).join('; ') + '.',
    '',
    '*aborts*: bookings not confirmed (seat taken or payment declined) per booking; *compensations*: bookings undone',
    'after a step had committed; *mixed / 1k*: distinct bookings the concurrent reader saw in a mixed state (seat',
    'without payment, payment without ticket, refund pending) per 1,000 bookings; *window*: how long such a booking',
    'stayed visible (first to last sample that saw it; a lower bound, resolution one sample); *×*: bookings/s over',
    "the baseline's in the same cell, with the median of the per-round ratios in parentheses when there are several",
    'rounds; *CPU ms / booking*:',
    `${nodeCpu} + the three PostgreSQL servers, per booking.`,
  ];
  for (const sweep of new Set(result.summaries.map((s) => s.sweep))) {
    lines.push('', `### ${sweep}`, '', ...sweepTable(result, sweep, baseline));
  }
  const peer = peerRatioMarkdown(result);
  if (peer.length > 0) lines.push('', ...peer);
  if (result.crashes.length > 0) {
    lines.push(
      '',
      '### Crash injection',
      '',
      '| mode | clients | contention | decline | killed after s | recovery s | after restart | mixed bookings seen | window max ms | audit |',
      '| --- | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | --- |',
    );
    for (const c of result.crashes) {
      if ('error' in c) {
        lines.push(`| ${c.mode} | – | – | – | – | – | – | – | – | FAILED: ${c.error} |`);
        continue;
      }
      const mixed = Object.values(c.inconsistency.bookingsByState).reduce((a, b) => a + b, 0);
      lines.push(
        `| ${c.mode} | ${c.concurrency} | ${c.contention} | ${c.declineRate * 100} % | ${fixed(c.killedAfterMs / 1000)} | ` +
          `${fixed(c.recoverMs / 1000, 2)} | ${Object.entries(c.afterRestart)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')} | ` +
          `${mixed} | ${fixed(c.inconsistency.durationMs.max, 0)} | ${c.audit.violations.length === 0 ? 'ok' : c.audit.violations.join('; ')} |`,
      );
    }
  }
  const failed = result.audits.filter((a) => a.report.violations.length > 0).length;
  lines.push(
    '',
    `Audits: ${result.audits.length - failed} of ${result.audits.length} cells consistent${result.crashes.length > 0 ? `, ${result.crashes.filter((c) => !('error' in c) && c.audit.violations.length === 0).length} of ${result.crashes.length} crash cells consistent` : ''}.`,
  );
  const logged = result.modes.filter((m) => m.logStatementsPerBooking !== undefined);
  if (logged.length > 0) {
    lines.push(
      '',
      'Log statements per booking: ' +
        logged.map((m) => `${m.name} ${fixed(m.logStatementsPerBooking!, 2)}`).join(', '),
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Charts of a library-level run: for each sweep over concurrency, throughput and latency vs clients; across
 * conditions, abort and compensation rates and the inconsistency window per mode.
 */
export async function libraryReportCharts(result: LibraryBenchResult): Promise<ReportChart[]> {
  const charts: ReportChart[] = [];
  const slug = (text: string) =>
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
  for (const sweep of new Set(result.summaries.map((s) => s.sweep))) {
    const mine = result.summaries.filter((s) => s.sweep === sweep);
    if (new Set(mine.map((s) => s.concurrency)).size < 2) continue;
    const first = mine[0]!;
    // One line per mode: the sweep's first contention and decline rate (a concurrency sweep keeps them fixed).
    const line = mine.filter((s) => s.contention === first.contention && s.declineRate === first.declineRate);
    const points = (y: (s: CellSummary) => number): ChartPoint[] =>
      line.map((s) => ({ series: s.mode, x: s.concurrency, y: y(s) }));
    const lineChart = async (name: string, caption: string, yTitle: string, y: (s: CellSummary) => number) =>
      charts.push({
        name: `${slug(sweep)}-${name}`,
        caption: `${caption} (${sweep}: ${conditionOf(first)})`,
        svg: await lineChartSvg({
          title: caption,
          xTitle: 'concurrent clients',
          yTitle,
          logX: true,
          points: points(y),
        }),
      });
    await lineChart('throughput', 'Throughput vs concurrency', 'bookings/s', (s) => s.bookingsPerSecond);
    await lineChart('latency-p50', 'Median latency vs concurrency', 'p50 latency (ms)', (s) => s.latency.p50);
    await lineChart('latency-p99', 'p99 latency vs concurrency', 'p99 latency (ms)', (s) => s.latency.p99);
    await lineChart(
      'mixed',
      'Bookings seen in a mixed state',
      'per 1,000 bookings',
      (s) => cellFigures(s).mixedPerThousand,
    );
  }
  const category = (s: CellSummary) => `${s.contention} d${s.declineRate * 100}% c${s.concurrency}`;
  const bars = async (name: string, caption: string, yTitle: string, y: (s: CellSummary) => number) =>
    charts.push({
      name,
      caption,
      svg: await barChartSvg({
        title: caption,
        xTitle: 'contention, decline rate, clients',
        yTitle,
        bars: result.summaries.map((s) => ({ category: category(s), series: s.mode, y: y(s) })),
      }),
    });
  await bars(
    'abort-rate',
    'Abort rate (seat taken or declined)',
    '% of bookings',
    (s) => 100 * cellFigures(s).abortRate,
  );
  await bars(
    'compensation-rate',
    'Compensation rate',
    '% of bookings',
    (s) => 100 * cellFigures(s).compensationRate,
  );
  await bars(
    'inconsistency-mixed',
    'Inconsistency: bookings seen mixed',
    'per 1,000 bookings',
    (s) => cellFigures(s).mixedPerThousand,
  );
  await bars(
    'inconsistency-window',
    'Inconsistency window (longest seen)',
    'ms',
    (s) => cellFigures(s).windowMaxMs,
  );
  return charts;
}
