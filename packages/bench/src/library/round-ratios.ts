import type { LoadSummary } from './run-load.js';

/**
 * bookings/s of `s` over `base`, round by round (rounds of the same number ran within minutes of each other on the
 * same servers, so each pair shares the machine's noise of that moment).
 *
 * @example
 * const ratios = pairedRoundRatios(saga, local); // [0.52, 0.48]
 */
export function pairedRoundRatios(
  s: Pick<LoadSummary, 'rounds'>,
  base: Pick<LoadSummary, 'rounds'>,
): number[] {
  return s.rounds.flatMap(({ round, bookingsPerSecond }) => {
    const paired = base.rounds.find((b) => b.round === round);
    return paired && paired.bookingsPerSecond > 0 ? [bookingsPerSecond / paired.bookingsPerSecond] : [];
  });
}
