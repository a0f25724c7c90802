import type { Channel, ChannelModel, ConsumeMessage, Options } from 'amqplib';
import { redeliveryDelay, sleep } from '../bus/backoff.js';
import {
  DEFAULT_MAX_DELIVERIES,
  type DeadLetterReason,
  deadLetterReason,
} from '../bus/dead-letter-reason.js';
import { TransportError } from '../errors.js';
import { closeQuietly } from './amqp-channel.js';
import {
  type DeadLetterInfo,
  deadLetterOptions,
  deadLetterQueueOf,
  ensureDeadLetterQueue,
} from './dead-letter.js';
import { asPublished, endedUnsettled, failedDeliveriesOf, retryCopy } from './redelivery.js';

/**
 * Options of {@link AmqpConnection.consume}.
 *
 * @example
 * await amqp.consume('work', handle, { prefetch: 4, requeueDelayMs: 500, maxDeliveries: 20 });
 */
export interface ConsumeOptions {
  /** Unacknowledged messages the broker hands this consumer at once (default 16). */
  prefetch?: number;
  /**
   * Pause before a failed message is delivered again, so that a failing dependency is not hammered: this long
   * after the first failure (default 100 ms), doubling (with jitter) after each further one, up to
   * `maxRequeueDelayMs`.
   */
  requeueDelayMs?: number;
  /** Upper bound of that pause (default 10 s). */
  maxRequeueDelayMs?: number;
  /**
   * Deliveries of a message, the first included, before a message whose handler keeps failing goes to the
   * dead-letter queue `<queue>.dead` instead of being delivered again (default 10). A delivery that ended
   * unacknowledged — the process died in the handler, the channel or connection closed — counts as failed, so a
   * message that crashes its consumer every time is dead-lettered too. With the default pauses a
   * message is dead-lettered after about 40 s of failures (100 ms doubling to 10 s): long enough to ride out a
   * database restart; raise them when a handler depends on something that can be down for longer. A message
   * that cannot be decoded ({@link outbox!MalformedMessageError}) is dead-lettered at its first failure.
   */
  maxDeliveries?: number;
  /**
   * The broker deletes the dead-letter queue after it has been unused this long (default: never). For a queue
   * that expires itself, such as a runner's reply queue, so that its dead-letter queue does not outlive it.
   */
  deadLetterExpiresMs?: number;
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
 * What a consumer needs from its connection: confirmed publishes (for the copies of failed messages) and a way
 * to report.
 * @internal
 */
export interface ConsumerHost {
  /** {@link AmqpConnection.publish}: resolves once the broker confirmed the message. */
  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
    signal: AbortSignal,
  ): Promise<void>;
  onError(error: unknown): void;
  onDeadLettered(info: DeadLetterInfo): void;
}

/** The channel a message came on: only it can ack the message, and only while it is open. */
interface DeliveringChannel {
  model: ChannelModel;
  channel: Channel;
  /** Aborts when the channel closes (the broker then requeues every message it delivered and was not acked). */
  closed: AbortSignal;
}

/**
 * One consumer registration of an {@link AmqpConnection}: survives reconnects, started anew on every connection.
 * @internal
 */
export class ConsumerRegistration implements AmqpConsumer {
  readonly queue: string;
  readonly deadLetterQueue: string;
  onCancel: () => void = () => {};
  readonly #handler: (message: ConsumeMessage) => Promise<void>;
  readonly #options: ConsumeOptions;
  readonly #host: ConsumerHost;
  readonly #running = new Set<Promise<void>>();
  #channel: Channel | undefined;
  #startedOn: ChannelModel | undefined;
  #tag: string | undefined;
  #cancelled = false;

  constructor(
    queue: string,
    handler: (message: ConsumeMessage) => Promise<void>,
    options: ConsumeOptions,
    host: ConsumerHost,
  ) {
    this.queue = queue;
    this.deadLetterQueue = deadLetterQueueOf(queue);
    this.#handler = handler;
    this.#options = options;
    this.#host = host;
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
    const closed = new AbortController();
    channel.once('close', () =>
      closed.abort(new TransportError(`the channel consuming '${this.queue}' closed`)),
    );
    // Bounded prefetch: the broker never hands this process more unacked work than it can hold.
    await channel.prefetch(this.#options.prefetch ?? 16);
    const { consumerTag } = await channel.consume(
      this.queue,
      (message) => {
        if (!message) {
          // The broker cancelled the consumer (queue deleted): it comes back with the next connection.
          this.#host.onError(
            new TransportError(`the broker cancelled the consumer of queue '${this.queue}'`),
          );
          return;
        }
        const delivery = this.#deliver({ model, channel, closed: closed.signal }, message);
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
    if (channel) await closeQuietly(channel);
  }

  /**
   * Acks the message when the handler resolves, and hands it to `#afterFailure` when it throws. A message a
   * classic queue requeued unsettled, or whose failed deliveries (see failedDeliveriesOf) reached
   * `maxDeliveries`, is not handled now: its last delivery counts as failed, so a message that kills its process
   * every time ends in the dead-letter queue instead of looping.
   */
  async #deliver(via: DeliveringChannel, message: ConsumeMessage): Promise<void> {
    const failed = failedDeliveriesOf(message);
    if (endedUnsettled(message) || failed >= (this.#options.maxDeliveries ?? DEFAULT_MAX_DELIVERIES)) {
      const error = new TransportError(
        `delivery ${failed} of a message on '${this.queue}' ended unacknowledged (its consumer died or ` +
          'its channel closed): counted as failed',
        { context: { queue: this.queue, deliveries: failed, messageId: message.properties.messageId } },
      );
      this.#host.onError(error);
      return this.#afterFailure(via, message, failed, error);
    }
    try {
      await this.#handler(asPublished(message));
    } catch (error) {
      this.#host.onError(error);
      // This delivery is the one after the failed ones.
      return this.#afterFailure(via, message, failed + 1, error);
    }
    settle(() => via.channel.ack(message));
  }

  /**
   * Publishes a copy of a failed message to the back of its queue, or to its dead-letter queue after its last
   * delivery, then acks the original. Never before the broker confirmed the copy: acked first, the message would
   * be lost if the copy never arrived. If the copy is not confirmed, the original is requeued instead.
   */
  async #afterFailure(
    via: DeliveringChannel,
    message: ConsumeMessage,
    deliveries: number,
    error: unknown,
  ): Promise<void> {
    const reason = deadLetterReason(error, deliveries, this.#options.maxDeliveries ?? DEFAULT_MAX_DELIVERIES);
    // Waiting cannot make a malformed message decodable.
    if (reason !== 'malformed') await this.#pause(deliveries);
    // Delivery tags belong to the channel that delivered the message; if it died meanwhile the broker has
    // already requeued the message, and a copy would only be a duplicate.
    if (via.closed.aborted) return;
    try {
      if (reason) {
        await this.#deadLetter(via, message, this.#deadLetterInfo(message, reason, deliveries, error));
      } else {
        await this.#host.publish('', this.queue, message.content, retryCopy(message, deliveries), via.closed);
      }
    } catch (publishError) {
      // Requeued, it comes back flagged as redelivered, and this delivery is counted then; after a pause, so
      // that a broker that refuses the copy is not asked again at once.
      this.#host.onError(publishError);
      if (reason === 'malformed') await this.#pause(deliveries);
      settle(() => via.channel.nack(message, false, true));
      return;
    }
    settle(() => via.channel.ack(message));
  }

  #deadLetterInfo(
    message: ConsumeMessage,
    reason: DeadLetterReason,
    deliveries: number,
    error: unknown,
  ): DeadLetterInfo {
    const { messageId } = message.properties;
    return {
      queue: this.queue,
      deadLetterQueue: this.deadLetterQueue,
      reason,
      deliveries,
      messageId: messageId === undefined ? undefined : String(messageId),
      error,
    };
  }

  async #deadLetter(via: DeliveringChannel, message: ConsumeMessage, info: DeadLetterInfo): Promise<void> {
    // Declared here rather than with the consumer: a queue that never has a dead letter gets no second queue
    // (temporary and exclusive queues would leave theirs behind), and one an operator deleted is declared again
    // (the broker drops, and confirms, a message published to a queue that does not exist).
    await ensureDeadLetterQueue(via.model, this.deadLetterQueue, this.#options.deadLetterExpiresMs);
    await this.#host.publish(
      '',
      this.deadLetterQueue,
      message.content,
      deadLetterOptions(message, info),
      via.closed,
    );
    this.#host.onDeadLettered(info);
  }

  /** The pause after failed delivery number `deliveries`: exponential, so a longer outage is ridden out. */
  #pause(deliveries: number): Promise<void> {
    return sleep(redeliveryDelay(deliveries, this.#options.requeueDelayMs, this.#options.maxRequeueDelayMs));
  }
}

function settle(action: () => void): void {
  try {
    action();
  } catch {
    // The channel closed: the broker redelivers every unacked message, so nothing is lost.
  }
}
