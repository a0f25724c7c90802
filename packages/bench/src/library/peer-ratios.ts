import { median } from '../stats/median.js';
import { pairedRoundRatios } from './round-ratios.js';
import type { CellSummary, LibraryBenchResult } from './run-library-bench.js';

/** The peer txkit is measured against: DBOS Transact's durable workflow (the `dbos` mode). */
export const PEER_MODE = 'dbos';

/** txkit's protocols compared with the peer, in the order the report shows them. */
const txkitModes = ['saga', '2pc'] as const;

/** One txkit mode against the peer in one cell. */
export interface PeerRatio {
  mode: string;
  sweep: string;
  contention: string;
  declineRate: number;
  concurrency: number;
  /** bookings/s over the peer's, median of the per-round ratios (over the whole cell with one round). */
  throughput: number;
  /** p50 latency over the peer's (rounds merged). */
  p50: number;
}

const sameCell = (a: CellSummary, b: CellSummary) =>
  a.sweep === b.sweep &&
  a.contention === b.contention &&
  a.declineRate === b.declineRate &&
  a.concurrency === b.concurrency;

// The median of the per-round pairs is what a noisy round moves least.
function throughputRatio(s: CellSummary, peer: CellSummary): number {
  const perRound = pairedRoundRatios(s, peer);
  const middle = perRound.length > 1 ? median(perRound) : undefined;
  if (middle !== undefined) return middle;
  return peer.bookingsPerSecond > 0 ? s.bookingsPerSecond / peer.bookingsPerSecond : Number.NaN;
}

/**
 * txkit's saga and 2PC against the peer, cell by cell, for the modes of the run (empty without the peer).
 *
 * @example
 * const ratios = peerRatios(result); // [{ mode: 'saga', concurrency: 8, throughput: 4.2, p50: 0.25, ... }]
 */
export function peerRatios(result: Pick<LibraryBenchResult, 'summaries'>): PeerRatio[] {
  return result.summaries.flatMap((peer) => {
    if (peer.mode !== PEER_MODE) return [];
    return txkitModes.flatMap((mode) => {
      const s = result.summaries.find((x) => x.mode === mode && sameCell(x, peer));
      if (!s) return [];
      return [
        {
          mode,
          sweep: s.sweep,
          contention: s.contention,
          declineRate: s.declineRate,
          concurrency: s.concurrency,
          throughput: throughputRatio(s, peer),
          p50: peer.latency.p50 > 0 ? s.latency.p50 / peer.latency.p50 : Number.NaN,
        },
      ];
    });
  });
}

/** The report's section of peer ratios as Markdown lines (empty when the run has no peer). */
export function peerRatioMarkdown(result: Pick<LibraryBenchResult, 'summaries'>): string[] {
  const ratios = peerRatios(result);
  if (ratios.length === 0) return [];
  const modes = txkitModes.filter((m) => ratios.some((r) => r.mode === m));
  const lines = [
    `### txkit vs DBOS Transact (same run, same cells)`,
    '',
    `*m / ${PEER_MODE}*: bookings/s of txkit's mode over DBOS's (median of the per-round ratios) and p50 latency over`,
    "DBOS's. The issue's goal for txkit: throughput ≥ 4× and p50 ≤ 0.3× at every concurrency.",
    '',
    `| sweep | contention | decline | clients | ${modes.map((m) => `${m} / ${PEER_MODE} bookings/s | ${m} / ${PEER_MODE} p50`).join(' | ')} |`,
    `| --- | --- | ---: | ---: | ${modes.map(() => '---: | ---:').join(' | ')} |`,
  ];
  const cells = new Map<string, PeerRatio[]>();
  for (const r of ratios) {
    const key = `${r.sweep}|${r.contention}|${r.declineRate}|${r.concurrency}`;
    cells.set(key, [...(cells.get(key) ?? []), r]);
  }
  for (const row of cells.values()) {
    const first = row[0]!;
    const figures = modes.map((m) => {
      const r = row.find((x) => x.mode === m);
      return r ? `${r.throughput.toFixed(2)}× | ${r.p50.toFixed(2)}×` : '– | –';
    });
    lines.push(
      `| ${first.sweep} | ${first.contention} | ${first.declineRate * 100} % | ${first.concurrency} | ${figures.join(' | ')} |`,
    );
  }
  return lines;
}
