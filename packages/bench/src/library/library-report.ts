import { type ChartPoint, lineChartSvg } from '../report/charts.js';
import type { ReportChart } from '../report/write-report.js';
import type { LibraryBenchResult } from './run-library-bench.js';

const fixed = (n: number, digits = 1) => n.toFixed(digits);

/**
 * Markdown table of a library-level run: bookings/s, latency percentiles and the ratio of each mode's
 * throughput to the baseline's at the same concurrency, in the same run.
 */
export function libraryReportMarkdown(result: LibraryBenchResult, baseline: string): string {
  const lines = [
    `Library-level booking bench, ${result.startedAt}`,
    '',
    `PostgreSQL ${result.server.server_version ?? '?'}; fsync=${result.server.fsync}, synchronous_commit=${result.server.synchronous_commit}; ` +
      `contention ${JSON.stringify(result.options.contention)}; ${result.options.rounds} interleaved round(s) of ${result.options.durationMs / 1000} s per cell.`,
    '',
    `| mode | concurrency | bookings/s | × ${baseline} | confirmed | rejected | errors | p50 ms | p90 ms | p99 ms | max ms |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const s of result.summaries) {
    const base = result.summaries.find((b) => b.mode === baseline && b.concurrency === s.concurrency);
    const ratio =
      base && base.bookingsPerSecond > 0 ? fixed(s.bookingsPerSecond / base.bookingsPerSecond, 2) : '–';
    lines.push(
      `| ${s.mode} | ${s.concurrency} | ${fixed(s.bookingsPerSecond, 0)} | ${ratio} | ${s.outcomes.confirmed} | ${s.outcomes.rejected} | ${s.outcomes.error} | ` +
        `${fixed(s.latency.p50, 2)} | ${fixed(s.latency.p90, 2)} | ${fixed(s.latency.p99, 2)} | ${fixed(s.latency.max, 1)} |`,
    );
  }
  const logged = result.modes.filter((m) => m.logStatementsPerBooking !== undefined);
  if (logged.length > 0) {
    lines.push(
      '',
      'Log statements per booking: ' + logged.map((m) => `${m.name} ${m.logStatementsPerBooking}`).join(', '),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Throughput and latency charts of a library-level run. */
export async function libraryReportCharts(result: LibraryBenchResult): Promise<ReportChart[]> {
  const points = (y: (s: LibraryBenchResult['summaries'][number]) => number): ChartPoint[] =>
    result.summaries.map((s) => ({ series: s.mode, x: s.concurrency, y: y(s) }));
  const chart = async (
    name: string,
    caption: string,
    yTitle: string,
    y: (s: LibraryBenchResult['summaries'][number]) => number,
  ) => ({
    name,
    caption,
    svg: await lineChartSvg({
      title: caption,
      xTitle: 'concurrent clients',
      yTitle,
      logX: true,
      points: points(y),
    }),
  });
  return [
    await chart('throughput', 'Throughput vs concurrency', 'bookings/s', (s) => s.bookingsPerSecond),
    await chart('latency-p50', 'Median latency vs concurrency', 'p50 latency (ms)', (s) => s.latency.p50),
    await chart('latency-p99', 'p99 latency vs concurrency', 'p99 latency (ms)', (s) => s.latency.p99),
  ];
}
