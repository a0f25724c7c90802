/** How bookings choose seats: the contention level of a run. */
export type Contention =
  /** Every booking a seat nobody else wants: no conflicts, pure protocol cost. */
  | { kind: 'fresh' }
  /** Many clients on a few hundred seats: conflicts and lock waits. */
  | { kind: 'hot'; seats: number };

/** Returns the seat for the next booking. */
export type SeatPicker = () => number;

/**
 * Makes a seat picker for one measurement cell.
 *
 * @example
 * const next = seatPicker({ kind: 'hot', seats: 300 });
 */
export function seatPicker(contention: Contention): SeatPicker {
  if (contention.kind === 'fresh') {
    let next = 0;
    return () => ++next;
  }
  return () => 1 + Math.floor(Math.random() * contention.seats);
}

/** Parses `fresh` or `hot:<seats>`. */
export function parseContention(text: string): Contention {
  if (text === 'fresh') return { kind: 'fresh' };
  const hot = /^hot:(\d+)$/.exec(text);
  if (hot) return { kind: 'hot', seats: Number(hot[1]) };
  throw new Error(`unknown contention '${text}': use 'fresh' or 'hot:<seats>'`);
}
