import { MalformedMessageError, type MessageBus } from 'txkit/outbox';
import { inConsumerSpan } from '../observability/consumer-span.js';
import { isSeatsChangedEvent, type SeatEventSource } from './seat-event-source.js';
import { SEAT_TOPIC } from './seat-events.js';

/**
 * Prefix of the read models' durable queues. Each read model needs a queue of its own: consumers of one queue
 * compete for its messages, so two read models on one queue would each see only part of the events.
 */
export const READ_MODEL_QUEUE = 'cinema.read-model';

/**
 * Seat events from a txkit message bus (RabbitMQ, or the in-process bus without a broker). A payload that is not a
 * seat event is reported and dead-lettered at once (delivering it again would never help; the dead-letter queue
 * keeps it for whoever investigates); a failing handler gets the event again.
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
      const subscription = await bus.subscribe({ queue, topics: [SEAT_TOPIC] }, (m) =>
        // In the trace of the booking that changed the seats (the message carries its traceparent).
        inConsumerSpan(m, queue, async () => {
          if (!isSeatsChangedEvent(m.payload)) {
            onMalformed(m.payload);
            throw new MalformedMessageError(
              `message ${m.messageId} on ${m.topic} is not a seats-changed event`,
            );
          }
          await handler(m.payload);
        }),
      );
      return () => subscription.cancel();
    },
  };
}
