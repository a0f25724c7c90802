import type { ConsumeMessage } from 'amqplib';
import type { AmqpConnection } from './amqp-connection.js';
import type {
  BusMessage,
  MessageBus,
  MessageHandler,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
} from './message-bus.js';

/**
 * Options of {@link RabbitMqBus}.
 *
 * @example
 * new RabbitMqBus(amqp, { exchange: 'cinema.events' });
 */
export interface RabbitMqBusOptions {
  /** Durable topic exchange the messages go through (default `txkit.events`). */
  exchange?: string;
}

const KEY_HEADER = 'x-txkit-key';

/**
 * {@link MessageBus} over RabbitMQ: a durable topic exchange, persistent messages with publisher confirms and a
 * stable `messageId`, durable queues consumed with manual acks.
 *
 * @example
 * const bus = new RabbitMqBus(amqp, { exchange: 'cinema.events' });
 * await bus.subscribe({ queue: 'read-model', topics: ['seat.#'] }, async (m) => apply(m.payload));
 */
export class RabbitMqBus implements MessageBus {
  readonly exchange: string;
  readonly #connection: AmqpConnection;
  #declared: Promise<void> | undefined;

  constructor(connection: AmqpConnection, options: RabbitMqBusOptions = {}) {
    this.#connection = connection;
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
    return this.#connection.consume(options.queue, (raw) => handler(decode<T>(raw)), {
      prefetch: options.prefetch ?? 16,
    });
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
    payload: JSON.parse(raw.content.toString('utf8')) as T,
    headers,
    redelivered: raw.fields.redelivered,
  };
}
