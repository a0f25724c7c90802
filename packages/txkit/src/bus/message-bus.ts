/**
 * The publish/subscribe interface shared by the RabbitMQ bus and the in-process bus: the outbox relay publishes
 * through it, read models subscribe through it, and an application switches between a broker and none by
 * choosing the implementation.
 */

/**
 * A message to publish.
 *
 * @example
 * await bus.publish({ topic: 'seat.booked', messageId: randomUUID(), key: 'screening-7', payload: { seat: 'A1' } });
 */
export interface OutgoingMessage<T = unknown> {
  /** Routing topic, dot-separated words (`seat.booked`). */
  topic: string;
  /** Stable id: the same event re-published keeps it, so consumers can drop duplicates. */
  messageId: string;
  /** Ordering key (a screening, an account): messages of one key are published in order. */
  key?: string | null;
  /** JSON-serialisable body. */
  payload: T;
  /** Extra string headers. */
  headers?: Record<string, string>;
}

/**
 * A delivered message.
 *
 * @example
 * await bus.subscribe({ queue: 'audit', topics: ['#'] }, async (m: BusMessage) => log.info(m.topic, m.messageId));
 */
export interface BusMessage<T = unknown> {
  topic: string;
  messageId: string;
  key: string | null;
  payload: T;
  headers: Record<string, string>;
  /** Whether this message was delivered before and not acknowledged (a handler failed or a consumer died). */
  redelivered: boolean;
}

/**
 * Where a subscription reads from.
 *
 * @example
 * await bus.subscribe({ queue: 'read-model', topics: ['seat.*', 'payment.refunded'], prefetch: 32 }, apply);
 */
export interface SubscribeOptions {
  /** Durable queue name; subscribers sharing a name compete for its messages, different names each get a copy. */
  queue: string;
  /** Topic patterns bound to the queue: words separated by `.`, `*` matches one word, `#` zero or more. */
  topics: readonly string[];
  /** Messages handled at once by this subscriber (default 16). */
  prefetch?: number;
}

/**
 * A running subscription.
 *
 * @example
 * const subscription = await bus.subscribe({ queue: 'q', topics: ['#'] }, handle);
 * await subscription.cancel();
 */
export interface Subscription {
  /** Stops delivery and waits for the handlers in progress. */
  cancel(): Promise<void>;
}

/**
 * Handles one message; a rejection has it redelivered later (at-least-once).
 *
 * @example
 * const handler: MessageHandler<{ seat: string }> = async (m) => console.log(m.payload.seat);
 */
export type MessageHandler<T = unknown> = (message: BusMessage<T>) => Promise<void>;

/**
 * Publish/subscribe with at-least-once delivery.
 *
 * @example
 * await bus.subscribe({ queue: 'read-model', topics: ['seat.*'] }, async (m) => apply(m.payload));
 * await bus.publish({ topic: 'seat.booked', messageId: randomUUID(), key: 'screening-7', payload: { seat: 'A1' } });
 */
export interface MessageBus {
  /** Resolves once the message is durably accepted (a broker confirm, or queued in memory). */
  publish(message: OutgoingMessage, signal?: AbortSignal): Promise<void>;
  /** Declares the queue and its bindings and delivers its messages to `handler`, acked when it resolves. */
  subscribe<T = unknown>(options: SubscribeOptions, handler: MessageHandler<T>): Promise<Subscription>;
}

/**
 * Whether an AMQP topic pattern matches a routing key (`*` one word, `#` zero or more words).
 *
 * @example
 * topicMatches('seat.#', 'seat.booked.vip'); // true
 */
export function topicMatches(pattern: string, topic: string): boolean {
  const match = (p: readonly string[], t: readonly string[]): boolean => {
    if (p.length === 0) return t.length === 0;
    const [head, ...rest] = p;
    if (head === '#') return match(rest, t) || (t.length > 0 && match(p, t.slice(1)));
    if (t.length === 0) return false;
    return (head === '*' || head === t[0]) && match(rest, t.slice(1));
  };
  return match(pattern.split('.'), topic.split('.'));
}
