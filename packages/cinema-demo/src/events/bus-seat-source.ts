import type { MessageBus } from 'txkit';
import { isSeatsChangedEvent, type SeatEventSource } from './seat-event-source.js';
import { SEAT_TOPIC } from './seat-events.js';

/** Durable queue of the read model on the bus. */
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
