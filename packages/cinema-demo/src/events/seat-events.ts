import type { SeatChange } from '../booking/outcome.js';
import type { Db } from '../db/statement.js';

/** Outbox topic (and RabbitMQ routing key) of seat changes. */
export const SEAT_TOPIC = 'cinema.seats.changed';

/** Why seats changed: sold by a booking, freed by a compensation or a rollback, freed by a cancellation. */
export type SeatCause = 'booked' | 'released' | 'cancelled';

/**
 * One screening's seat changes from one local transaction. `version` is the highest seat version in it: seat
 * versions come from one sequence taken under the seat's row lock, so for any seat a later change always has a
 * larger version, whatever order the broker delivers them in.
 */
export interface SeatsChangedEvent {
  screeningId: number;
  version: number;
  cause: SeatCause;
  seats: { seatId: number; status: 'free' | 'sold'; version: number }[];
}

/** Writes seat events in the caller's local transaction, so they are published if and only if it commits. */
export interface SeatEventOutbox {
  enqueue(db: Db, event: SeatsChangedEvent): Promise<void>;
}

/** Groups a transaction's seat changes into one event per screening. */
export function seatEvents(changes: readonly SeatChange[], cause: SeatCause): SeatsChangedEvent[] {
  const byScreening = new Map<number, SeatsChangedEvent>();
  for (const c of changes) {
    let event = byScreening.get(c.screeningId);
    if (!event) {
      event = { screeningId: c.screeningId, version: 0, cause, seats: [] };
      byScreening.set(c.screeningId, event);
    }
    event.seats.push({ seatId: c.seatId, status: c.status, version: c.version });
    event.version = Math.max(event.version, c.version);
  }
  return [...byScreening.values()];
}

/** Enqueues the events of a list of seat changes in the caller's transaction. */
export async function enqueueSeatChanges(
  outbox: SeatEventOutbox,
  db: Db,
  changes: readonly SeatChange[],
  cause: SeatCause,
): Promise<void> {
  for (const event of seatEvents(changes, cause)) await outbox.enqueue(db, event);
}
