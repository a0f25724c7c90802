/**
 * Bounded redelivery. RabbitMQ's classic queues do not count how often a message was requeued, so instead of
 * requeueing a message whose handler failed, the consumer publishes a copy of it to the back of its queue with
 * the count in a header, and acknowledges the original once the broker has confirmed the copy. The copy also
 * carries the exchange and routing key the message was first published with, since going back through the
 * default exchange replaces them, and handlers (the bus's topic) must see the message as it was published.
 */
import type { ConsumeMessage, MessagePropertyHeaders, Options } from 'amqplib';

/** Deliveries of the message so far, all failed; absent on the first delivery. */
const ATTEMPTS_HEADER = 'x-txkit-attempts';
/** Exchange the message was first published to. */
const EXCHANGE_HEADER = 'x-txkit-exchange';
/** Routing key the message was first published with. */
const ROUTING_KEY_HEADER = 'x-txkit-routing-key';
/** Set by quorum queues: how often the broker delivered this very message before (a nack, a consumer that died). */
const QUORUM_DELIVERY_COUNT_HEADER = 'x-delivery-count';
/** Prefix of the headers a dead letter carries (why, when, from where); not shown to handlers after a replay. */
export const DEAD_LETTER_HEADER_PREFIX = 'x-txkit-dead-';

/**
 * Deliveries of this message that already failed: those its copies counted, those a quorum queue counted for this
 * copy (a consumer that died while handling it, a requeue after a failed publish), and — on a classic queue,
 * which counts nothing — the unsettled delivery the broker just requeued (see {@link endedUnsettled}).
 */
export function failedDeliveriesOf(message: ConsumeMessage): number {
  const headers = message.properties.headers ?? {};
  const counted = countIn(headers[ATTEMPTS_HEADER]) + countIn(headers[QUORUM_DELIVERY_COUNT_HEADER]);
  return endedUnsettled(message) ? counted + 1 : counted;
}

/**
 * Whether the broker requeued this very message after a delivery that was never settled — its consumer died
 * mid-handler, or its channel or connection closed — on a queue that does not count deliveries itself (a classic
 * queue; a quorum queue's `x-delivery-count` already counts such a delivery).
 */
export function endedUnsettled(message: ConsumeMessage): boolean {
  return (
    message.fields.redelivered && message.properties.headers?.[QUORUM_DELIVERY_COUNT_HEADER] === undefined
  );
}

/** The message as the handler sees it: as it was first published, without txkit's bookkeeping headers. */
export function asPublished(message: ConsumeMessage): ConsumeMessage {
  const headers = message.properties.headers ?? {};
  if (!Object.keys(headers).some(isBookkeeping)) return message;
  const { exchange, routingKey } = originalRoute(message);
  return {
    ...message,
    // A copy exists only because an earlier delivery failed, or because an operator replayed a dead letter.
    fields: { ...message.fields, exchange, routingKey, redelivered: true },
    properties: {
      ...message.properties,
      headers: Object.fromEntries(Object.entries(headers).filter(([name]) => !isBookkeeping(name))),
    },
  };
}

/** The copy that goes back to the end of the queue after the failed delivery number `deliveries`. */
export function retryCopy(message: ConsumeMessage, deliveries: number): Options.Publish {
  return copyOptions(message, { [ATTEMPTS_HEADER]: deliveries });
}

/**
 * Publish options that carry a delivered message's properties over to a copy, with `extraHeaders` and its
 * original route. Dropped: the broker's delivery count (the copy is a new message to the broker) and `userId`,
 * which the broker checks against the publishing connection's user.
 */
export function copyOptions(message: ConsumeMessage, extraHeaders: MessagePropertyHeaders): Options.Publish {
  const { headers = {}, userId: _userId, clusterId: _clusterId, ...properties } = message.properties;
  const {
    [ATTEMPTS_HEADER]: _attempts,
    [QUORUM_DELIVERY_COUNT_HEADER]: _deliveryCount,
    ...kept
  } = headers as MessagePropertyHeaders;
  const { exchange, routingKey } = originalRoute(message);
  return {
    ...withoutUndefined(properties),
    headers: { ...kept, [EXCHANGE_HEADER]: exchange, [ROUTING_KEY_HEADER]: routingKey, ...extraHeaders },
  };
}

function originalRoute(message: ConsumeMessage): { exchange: string; routingKey: string } {
  const headers = message.properties.headers ?? {};
  return {
    exchange: String(headers[EXCHANGE_HEADER] ?? message.fields.exchange),
    routingKey: String(headers[ROUTING_KEY_HEADER] ?? message.fields.routingKey),
  };
}

function isBookkeeping(header: string): boolean {
  return (
    header === ATTEMPTS_HEADER ||
    header === EXCHANGE_HEADER ||
    header === ROUTING_KEY_HEADER ||
    header.startsWith(DEAD_LETTER_HEADER_PREFIX)
  );
}

function countIn(value: unknown): number {
  const count = Number(value ?? 0);
  return Number.isSafeInteger(count) && count > 0 ? count : 0;
}

function withoutUndefined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}
