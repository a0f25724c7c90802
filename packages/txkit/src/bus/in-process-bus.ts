import { EventEmitter } from 'eventemitter3';
import { redeliveryDelay, sleep } from './backoff.js';
import { DEFAULT_MAX_DELIVERIES, deadLetterReason } from './dead-letter-reason.js';
import {
  type BusMessage,
  type MessageBus,
  type MessageHandler,
  type OutgoingMessage,
  type SubscribeOptions,
  type Subscription,
  topicMatches,
} from './message-bus.js';

interface Consumer {
  handler: MessageHandler;
  prefetch: number;
  running: Set<Promise<void>>;
  cancelled: boolean;
}

/** A message waiting in a queue, with the deliveries it failed so far. */
interface Waiting {
  message: BusMessage;
  failedDeliveries: number;
}

interface Queue {
  name: string;
  topics: Set<string>;
  waiting: Waiting[];
  /** Messages whose handler failed on every delivery, as RabbitMQ's `<queue>.dead` would hold them. */
  dead: BusMessage[];
  consumers: Consumer[];
  next: number;
}

/**
 * Options of {@link InProcessBus}.
 *
 * @example
 * new InProcessBus({ redeliveryDelayMs: 1_000 });
 */
export interface InProcessBusOptions {
  /**
   * Pause before a message whose handler failed is delivered again: this long after the first failure (default
   * 100 ms), doubling after each further one up to `maxRedeliveryDelayMs` (default 10 s), as the RabbitMQ bus does.
   */
  redeliveryDelayMs?: number;
  /** Upper bound of that pause (default 10 s). */
  maxRedeliveryDelayMs?: number;
  /**
   * Deliveries of a message, the first included, before a message whose handler keeps failing is set aside as a
   * dead letter (`deadLetters(queue)`, a `deadLettered` event) instead of being delivered again (default 10). A
   * handler that throws {@link MalformedMessageError} has its message set aside at once.
   */
  maxDeliveries?: number;
}

/**
 * Events of {@link InProcessBus}.
 *
 * @example
 * bus.on('error', (error, message) => log.warn({ topic: message.topic }, String(error)));
 */
export interface InProcessBusEvents {
  /** A handler failed; the message is delivered again after a pause (or set aside, after its last delivery). */
  error: (error: unknown, message: BusMessage) => void;
  /** A message's handler failed on its last delivery: the message is now among `deadLetters(queue)`. */
  deadLettered: (queue: string, message: BusMessage, error: unknown) => void;
}

/**
 * {@link MessageBus} inside one process, for running without a broker (tests, the demo's embedded mode). It
 * behaves like the RabbitMQ bus where it matters: queues keep messages while nobody consumes, subscribers of one
 * queue compete, payloads are copied through JSON, a failed handler gets the message again with `redelivered`.
 * Nothing survives the process: pair it with the outbox, whose table is the durable part.
 *
 * @example
 * const bus = new InProcessBus();
 * await bus.subscribe({ queue: 'audit', topics: ['#'] }, async (m) => console.log(m.topic, m.payload));
 * await bus.publish({ topic: 'seat.booked', messageId: '1', payload: { seat: 'A1' } });
 */
export class InProcessBus extends EventEmitter<InProcessBusEvents> implements MessageBus {
  readonly #queues = new Map<string, Queue>();
  readonly #options: InProcessBusOptions;

  constructor(options: InProcessBusOptions = {}) {
    super();
    this.#options = options;
  }

  async publish(message: OutgoingMessage): Promise<void> {
    const delivered: BusMessage = {
      topic: message.topic,
      messageId: message.messageId,
      key: message.key ?? null,
      // A copy through JSON, as over the wire: no shared objects, no values JSON cannot carry.
      payload: JSON.parse(JSON.stringify(message.payload ?? null)),
      headers: { ...message.headers },
      redelivered: false,
    };
    for (const queue of this.#queues.values()) {
      if (![...queue.topics].some((pattern) => topicMatches(pattern, message.topic))) continue;
      queue.waiting.push({ message: { ...delivered }, failedDeliveries: 0 });
      this.#pump(queue);
    }
  }

  /** Declares the queue and its bindings and delivers its messages to `handler`, acked when it resolves. */
  async subscribe<T = unknown>(options: SubscribeOptions, handler: MessageHandler<T>): Promise<Subscription> {
    const queue = this.#queue(options.queue);
    for (const topic of options.topics) queue.topics.add(topic);
    const consumer: Consumer = {
      handler: handler as MessageHandler,
      prefetch: options.prefetch ?? 16,
      running: new Set(),
      cancelled: false,
    };
    queue.consumers.push(consumer);
    this.#pump(queue);
    return {
      cancel: async () => {
        consumer.cancelled = true;
        queue.consumers = queue.consumers.filter((c) => c !== consumer);
        await Promise.allSettled([...consumer.running]);
      },
    };
  }

  /** Messages waiting in a queue (not yet handed to a subscriber). */
  waitingCount(queue: string): number {
    return this.#queues.get(queue)?.waiting.length ?? 0;
  }

  /**
   * Messages of a queue whose handler failed on every delivery, oldest first. They stay until the process ends.
   *
   * @example
   * for (const message of bus.deadLetters('audit')) console.warn('dead letter', message.messageId);
   */
  deadLetters(queue: string): readonly BusMessage[] {
    return this.#queues.get(queue)?.dead ?? [];
  }

  #queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = { name, topics: new Set(), waiting: [], dead: [], consumers: [], next: 0 };
      this.#queues.set(name, queue);
    }
    return queue;
  }

  #pump(queue: Queue): void {
    while (queue.waiting.length > 0) {
      const consumer = this.#pick(queue);
      if (!consumer) return;
      const waiting = queue.waiting.shift()!;
      const delivery = this.#deliver(queue, consumer, waiting);
      consumer.running.add(delivery);
      void delivery.finally(() => {
        consumer.running.delete(delivery);
        this.#pump(queue);
      });
    }
  }

  /** Round robin over the consumers that have room under their prefetch. */
  #pick(queue: Queue): Consumer | undefined {
    for (let i = 0; i < queue.consumers.length; i++) {
      const index = (queue.next + i) % queue.consumers.length;
      const consumer = queue.consumers[index]!;
      if (!consumer.cancelled && consumer.running.size < consumer.prefetch) {
        queue.next = index + 1;
        return consumer;
      }
    }
    return undefined;
  }

  async #deliver(queue: Queue, consumer: Consumer, waiting: Waiting): Promise<void> {
    // Handlers always run asynchronously, as they would on a broker.
    await Promise.resolve();
    const { message } = waiting;
    try {
      await consumer.handler(message);
    } catch (error) {
      this.emit('error', error, message);
      const failedDeliveries = waiting.failedDeliveries + 1;
      // The RabbitMQ consumer's rule: a malformed message at once, any other after its last delivery.
      if (deadLetterReason(error, failedDeliveries, this.#options.maxDeliveries ?? DEFAULT_MAX_DELIVERIES)) {
        queue.dead.push(message);
        this.emit('deadLettered', queue.name, message, error);
        return;
      }
      await sleep(
        redeliveryDelay(
          failedDeliveries,
          this.#options.redeliveryDelayMs,
          this.#options.maxRedeliveryDelayMs,
        ),
      );
      queue.waiting.unshift({ message: { ...message, redelivered: true }, failedDeliveries });
    }
  }
}
