import type { MessageBus } from 'txkit';
import { isSeatsChangedEvent, type SeatEventSource } from './seat-event-source.js';
import { SEAT_TOPIC } from './seat-events.js';

/**
 * Prefix of the read models' durable queues. Each read model needs a queue of its own: consumers of one queue
 * compete for its messages, so two read models on one queue would each see only part of the events.
 */
export const READ_MODEL_QUEUE = 'cinema.read-model';

/**
 * Seat events from a txkit message bus (RabbitMQ, or the in-process bus without a broker). A malformed payload
 * is acknowledged and dropped (redelivering it would never help); a failing handler gets it again.
 *
 * @example
 * const source = busSeatSource(bus, (m) => log.warn(m));
 */
export function busSeatSource(
  bus: MessageBus,
  onMalformed: (payload: unknown) => void,
  queue = READ_MODEL_QUEUE,
): SeatEventSource {
  return {
    async subscribe(handler) {
      const subscription = await bus.subscribe({ queue, topics: [SEAT_TOPIC] }, async (m) => {
        if (!isSeatsChangedEvent(m.payload)) return onMalformed(m.payload);
        await handler(m.payload);
      });
      return () => subscription.cancel();
    },
  };
}
