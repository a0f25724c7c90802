import type { SeatsChangedEvent } from '../events/seat-events.js';

/** One seat as the read model shows it. */
export interface SeatState {
  seatId: number;
  status: 'free' | 'sold';
  version: number;
}

interface ScreeningState {
  version: number;
  seats: Map<number, SeatState>;
}

/**
 * The read model's memory: every seat's latest known state per screening. A change is applied only when its
 * version is newer than the seat's, so a stale or duplicated update (redelivery, reordering, a rebuild racing
 * live events) never overwrites a newer one.
 *
 * @example
 * const store = new SeatStateStore();
 * const applied = store.apply(event); // the part of the event that was news
 */
export class SeatStateStore {
  readonly #screenings = new Map<number, ScreeningState>();

  /** Applies an event's newer seats; returns the event cut down to them, or undefined when nothing was new. */
  apply(event: SeatsChangedEvent): SeatsChangedEvent | undefined {
    const screening = this.#screening(event.screeningId);
    const fresh = event.seats.filter((s) => s.version > (screening.seats.get(s.seatId)?.version ?? -1));
    if (fresh.length === 0) return undefined;
    for (const seat of fresh) screening.seats.set(seat.seatId, { ...seat });
    screening.version = Math.max(screening.version, ...fresh.map((s) => s.version));
    return { ...event, seats: fresh, version: screening.version };
  }

  /** The screening's seats and its version (the highest seat version seen). */
  snapshot(screeningId: number): { screeningId: number; version: number; seats: SeatState[] } {
    const screening = this.#screenings.get(screeningId);
    return {
      screeningId,
      version: screening?.version ?? 0,
      seats: screening ? [...screening.seats.values()].sort((a, b) => a.seatId - b.seatId) : [],
    };
  }

  has(screeningId: number): boolean {
    return this.#screenings.has(screeningId);
  }

  #screening(id: number): ScreeningState {
    let screening = this.#screenings.get(id);
    if (!screening) {
      screening = { version: 0, seats: new Map() };
      this.#screenings.set(id, screening);
    }
    return screening;
  }
}
