import type { CellSummary } from './run-library-bench.js';

/** The derived figures of one cell that the report tables and charts show. */
export interface CellFigures {
  total: number;
  /** Bookings that did not confirm (seat taken or payment declined), per booking. */
  abortRate: number;
  /** Bookings undone by a compensation after a step had committed, per booking (0 for rollback modes). */
  compensationRate: number;
  /** Distinct bookings the reader saw in a mixed state, per 1,000 bookings. */
  mixedPerThousand: number;
  mixedBookings: number;
  /** Share of the reader's samples that showed at least one mixed booking. */
  mixedSampleShare: number;
  windowP50Ms: number;
  windowMaxMs: number;
}

/**
 * Derives rates and the inconsistency window of a cell from its counts (rounds merged).
 *
 * @example
 * const { abortRate } = cellFigures(summary);
 */
export function cellFigures(s: CellSummary): CellFigures {
  const o = s.outcomes;
  const total = o.confirmed + o.rejected + o.declined;
  const mixedBookings = s.inconsistency.reduce(
    (sum, r) => sum + Object.values(r.bookingsByState).reduce((a, b) => a + b, 0),
    0,
  );
  const samples = s.inconsistency.reduce((sum, r) => sum + r.samples, 0);
  const withMixed = s.inconsistency.reduce((sum, r) => sum + r.samplesWithMixed, 0);
  return {
    total,
    abortRate: total > 0 ? (o.rejected + o.declined) / total : 0,
    compensationRate: total > 0 && s.compensates ? o.declined / total : 0,
    mixedPerThousand: total > 0 ? (1000 * mixedBookings) / total : 0,
    mixedBookings,
    mixedSampleShare: samples > 0 ? withMixed / samples : 0,
    windowP50Ms: Math.max(0, ...s.inconsistency.map((r) => r.durationMs.p50)),
    windowMaxMs: Math.max(0, ...s.inconsistency.map((r) => r.durationMs.max)),
  };
}
