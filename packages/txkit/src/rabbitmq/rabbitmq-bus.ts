import type { ConsumeMessage } from 'amqplib';
import { parseJsonBody } from '../bus/json-body.js';
import type {
  BusMessage,
  MessageBus,
  MessageHandler,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
} from '../bus/message-bus.js';
import { withTraceContextOf } from '../tracing/message-context.js';
import type { AmqpConnection } from './amqp-connection.js';

/**
 * Options of {@link RabbitMqBus}.
 *
 * @example
 * new RabbitMqBus(amqp, { exchange: 'cinema.events', maxDeliveries: 50, requeueDelayMs: 1_000 });
 */
export interface RabbitMqBusOptions {
  /** Durable topic exchange the messages go through (default `txkit.events`). */
  exchange?: string;
  /** Deliveries of a message whose handler keeps failing before it is dead-lettered (see {@link ConsumeOptions}). */
  maxDeliveries?: number;
  /** First pause before a message whose handler failed is delivered again (see {@link ConsumeOptions}). */
  requeueDelayMs?: number;
  /** Upper bound of that pause, which doubles after each failure (see {@link ConsumeOptions}). */
  maxRequeueDelayMs?: number;
}

const KEY_HEADER = 'x-txkit-key';

/**
 * {@link MessageBus} over RabbitMQ: a durable topic exchange, persistent messages with publisher confirms and a
 * stable `messageId`, durable queues consumed with manual acks. A message whose body is not JSON, or whose
 * handler fails on each of `maxDeliveries` deliveries, is moved to the queue's dead-letter queue `<queue>.dead`
 * (see {@link AmqpConnection.consume}).
 *
 * @example
 * const bus = new RabbitMqBus(amqp, { exchange: 'cinema.events' });
 * await bus.subscribe({ queue: 'read-model', topics: ['seat.#'] }, async (m) => apply(m.payload));
 */
export class RabbitMqBus implements MessageBus {
  readonly exchange: string;
  readonly #connection: AmqpConnection;
  readonly #options: RabbitMqBusOptions;
  #declared: Promise<void> | undefined;

  constructor(connection: AmqpConnection, options: RabbitMqBusOptions = {}) {
    this.#connection = connection;
    this.#options = options;
    this.exchange = options.exchange ?? 'txkit.events';
  }

  async publish(message: OutgoingMessage, signal?: AbortSignal): Promise<void> {
    await this.#declareExchange();
    const headers: Record<string, string> = { ...message.headers };
    if (message.key != null) headers[KEY_HEADER] = message.key;
    await this.#connection.publish(
      this.exchange,
      message.topic,
      Buffer.from(JSON.stringify(message.payload)),
      {
        // Persistent + confirmed: once publish resolves, the broker has the message on disk (durable queues).
        persistent: true,
        messageId: message.messageId,
        contentType: 'application/json',
        headers,
      },
      signal,
    );
  }

  /** Declares the queue and its bindings and delivers its messages to `handler`, acked when it resolves. */
  async subscribe<T = unknown>(options: SubscribeOptions, handler: MessageHandler<T>): Promise<Subscription> {
    await this.#declareExchange();
    await this.#connection.addTopology(async (channel) => {
      await channel.assertQueue(options.queue, { durable: true });
      for (const topic of options.topics) await channel.bindQueue(options.queue, this.exchange, topic);
    });
    // A handler runs in the trace context its message carries (the producer's traceparent, see the outbox).
    return this.#connection.consume(
      options.queue,
      async (raw) => withTraceContextOf(raw.properties.headers, () => handler(decode<T>(raw))),
      {
        prefetch: options.prefetch ?? 16,
        maxDeliveries: this.#options.maxDeliveries,
        requeueDelayMs: this.#options.requeueDelayMs,
        maxRequeueDelayMs: this.#options.maxRequeueDelayMs,
      },
    );
  }

  #declareExchange(): Promise<void> {
    this.#declared ??= this.#connection
      .addTopology(async (channel) => {
        await channel.assertExchange(this.exchange, 'topic', { durable: true });
      })
      .catch((error) => {
        this.#declared = undefined;
        throw error;
      });
    return this.#declared;
  }
}

function decode<T>(raw: ConsumeMessage): BusMessage<T> {
  const headers: Record<string, string> = {};
  let key: string | null = null;
  for (const [name, value] of Object.entries(raw.properties.headers ?? {})) {
    if (name === KEY_HEADER) key = String(value);
    else headers[name] = String(value);
  }
  return {
    topic: raw.fields.routingKey,
    messageId: String(raw.properties.messageId ?? ''),
    key,
    payload: parseJsonBody(raw.content, 'bus message') as T,
    headers,
    redelivered: raw.fields.redelivered,
  };
}
