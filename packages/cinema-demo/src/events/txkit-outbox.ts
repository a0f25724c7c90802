import type { Queryable } from 'txkit';
import type { Outbox } from 'txkit/outbox';
import { SEAT_TOPIC, type SeatEventOutbox } from './seat-events.js';

/**
 * Seat events through txkit's transactional outbox, keyed by screening so one screening's events are published
 * in commit order. `notify: false` for writes inside 2PC branches, because PostgreSQL refuses PREPARE TRANSACTION
 * after NOTIFY (the relay's polling picks those rows up instead).
 *
 * @example
 * const outbox = seatOutbox(new Outbox(), { notify: true });
 * await outbox.enqueue(client, event); // in the same transaction as the seat change
 */
export function seatOutbox(outbox: Outbox, options: { notify: boolean }): SeatEventOutbox {
  return {
    async enqueue(db, event) {
      await outbox.enqueue(db as unknown as Queryable, SEAT_TOPIC, event, {
        key: `screening-${event.screeningId}`,
        notify: options.notify,
      });
    },
  };
}
