/**
 * Decides which bookings have their payment declined: the `n`-th request of a cell is declined when a fixed
 * hash of `n` falls below `rate`. Deterministic on purpose — every mode gets the same requests declined, so a
 * difference between protocols is not luck of the draw.
 *
 * @example
 * const declined = declineDecider(0.05);
 * declined(17); // same answer in every mode and every run
 */
export function declineDecider(rate: number): (sequence: number) => boolean {
  if (!(rate >= 0 && rate <= 1)) throw new Error(`a decline rate is a fraction in [0, 1], got ${rate}`);
  // Knuth's multiplicative hash spreads consecutive numbers over [0, 2^32).
  return (sequence) => rate > 0 && (Math.imul(sequence + 1, 2654435761) >>> 0) / 2 ** 32 < rate;
}
