/** How bookings choose seats: the contention level of a run. */
export type Contention =
  /** Every booking a seat nobody else wants: no conflicts, pure protocol cost. */
  | { kind: 'fresh' }
  /** Many clients on a few hundred seats: conflicts and lock waits, then mostly refusals once they are sold. */
  | { kind: 'hot'; seats: number }
  /**
   * One screening filling up, as the original experiment did: clients pick among the seats not yet sold, so
   * conflicts grow as the hall fills; when it is full the next screening (the next `seats` ids) opens.
   */
  | { kind: 'screening'; seats: number };

/** Hands out the seat for the next booking and hears what became of it. */
export interface SeatPicker {
  next(): number;
  /** Called with each booking's seat once it is confirmed (the screening picker stops offering it). */
  sold?(seat: number): void;
}

/**
 * Makes a seat picker for one measurement cell.
 *
 * @example
 * const picker = seatPicker({ kind: 'screening', seats: 500 });
 * const seat = picker.next();
 */
export function seatPicker(contention: Contention): SeatPicker {
  if (contention.kind === 'fresh') {
    let next = 0;
    return { next: () => ++next };
  }
  if (contention.kind === 'hot') return { next: () => 1 + Math.floor(Math.random() * contention.seats) };
  return screeningPicker(contention.seats);
}

function screeningPicker(size: number): SeatPicker {
  let firstSeat = 1;
  let free: number[] = [];
  const open = () => {
    free = Array.from({ length: size }, (_, i) => firstSeat + i);
    firstSeat += size;
  };
  open();
  return {
    next() {
      if (free.length === 0) open();
      return free[Math.floor(Math.random() * free.length)] ?? firstSeat;
    },
    sold(seat) {
      const at = free.indexOf(seat);
      if (at < 0) return;
      // Swap-remove: order does not matter, picks are random.
      free[at] = free[free.length - 1] ?? seat;
      free.pop();
    },
  };
}

/** Parses `fresh`, `hot:<seats>` or `screening:<seats>`. */
export function parseContention(text: string): Contention {
  if (text === 'fresh') return { kind: 'fresh' };
  const sized = /^(hot|screening):(\d+)$/.exec(text);
  if (sized && Number(sized[2]) > 0)
    return { kind: sized[1] as 'hot' | 'screening', seats: Number(sized[2]) };
  throw new Error(`unknown contention '${text}': use 'fresh', 'hot:<seats>' or 'screening:<seats>'`);
}

/** The command-line / scenario spelling of a contention. */
export function contentionLabel(contention: Contention): string {
  return contention.kind === 'fresh' ? 'fresh' : `${contention.kind}:${contention.seats}`;
}
