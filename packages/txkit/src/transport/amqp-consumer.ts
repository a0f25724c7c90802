import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { TransportError } from '../errors.js';
import { sleep } from './backoff.js';

/**
 * Options of {@link AmqpConnection.consume}.
 *
 * @example
 * await amqp.consume('work', handle, { prefetch: 4, requeueDelayMs: 500 });
 */
export interface ConsumeOptions {
  /** Unacknowledged messages the broker hands this consumer at once (default 16). */
  prefetch?: number;
  /** Pause before a failed message is requeued, so that a failing dependency is not hammered (default 100 ms). */
  requeueDelayMs?: number;
}

/**
 * A running consumer.
 *
 * @example
 * const consumer = await amqp.consume('work', handle);
 * await consumer.cancel();
 */
export interface AmqpConsumer {
  /** The queue consumed. */
  readonly queue: string;
  /** Messages whose handler is running. */
  readonly inFlight: number;
  /** Stops consuming, waits for the handlers in progress (their acks still go out), closes the channel. */
  cancel(): Promise<void>;
}

/**
 * One consumer registration of an {@link AmqpConnection}: survives reconnects, started anew on every connection.
 * @internal
 */
export class ConsumerRegistration implements AmqpConsumer {
  readonly queue: string;
  onCancel: () => void = () => {};
  readonly #handler: (message: ConsumeMessage) => Promise<void>;
  readonly #options: ConsumeOptions;
  readonly #onError: (error: unknown) => void;
  readonly #running = new Set<Promise<void>>();
  #channel: Channel | undefined;
  #startedOn: ChannelModel | undefined;
  #tag: string | undefined;
  #cancelled = false;

  constructor(
    queue: string,
    handler: (message: ConsumeMessage) => Promise<void>,
    options: ConsumeOptions,
    onError: (error: unknown) => void,
  ) {
    this.queue = queue;
    this.#handler = handler;
    this.#options = options;
    this.#onError = onError;
  }

  get inFlight(): number {
    return this.#running.size;
  }

  /** Whether this consumer was started on that connection (or is cancelled and needs no start). */
  isStartedOn(model: ChannelModel): boolean {
    return this.#cancelled || this.#startedOn === model;
  }

  async start(model: ChannelModel): Promise<void> {
    if (this.isStartedOn(model)) return;
    this.#startedOn = model;
    const channel = await model.createChannel();
    channel.on('error', () => {});
    // Bounded prefetch: the broker never hands this process more unacked work than it can hold.
    await channel.prefetch(this.#options.prefetch ?? 16);
    const { consumerTag } = await channel.consume(
      this.queue,
      (message) => {
        if (!message) {
          // The broker cancelled the consumer (queue deleted): it comes back with the next connection.
          this.#onError(new TransportError(`the broker cancelled the consumer of queue '${this.queue}'`));
          return;
        }
        const delivery = this.#deliver(channel, message);
        this.#running.add(delivery);
        void delivery.finally(() => this.#running.delete(delivery));
      },
      { noAck: false },
    );
    this.#channel = channel;
    this.#tag = consumerTag;
  }

  async cancel(): Promise<void> {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.onCancel();
    const channel = this.#channel;
    if (channel && this.#tag) await channel.cancel(this.#tag).catch(() => {});
    await Promise.allSettled([...this.#running]);
    if (channel) await channel.close().catch(() => {});
  }

  async #deliver(channel: Channel, message: ConsumeMessage): Promise<void> {
    try {
      await this.#handler(message);
    } catch (error) {
      this.#onError(error);
      await sleep(this.#options.requeueDelayMs ?? 100);
      // Delivery tags belong to the channel that delivered the message; if it died meanwhile the broker has
      // already requeued the message, and acking on it would throw.
      settle(() => channel.nack(message, false, true));
      return;
    }
    settle(() => channel.ack(message));
  }
}

function settle(action: () => void): void {
  try {
    action();
  } catch {
    // The channel closed: the broker redelivers every unacked message, so nothing is lost.
  }
}
