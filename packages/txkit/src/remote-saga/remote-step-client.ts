import { randomUUID } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';
import { RetryableError } from '../errors.js';
import type { AmqpConnection } from '../rabbitmq/amqp-connection.js';
import type { AmqpConsumer } from '../rabbitmq/amqp-consumer.js';
import { injectTraceContext } from '../tracing/message-context.js';
import {
  correlationIdOf,
  decodeReply,
  encodeMessage,
  type RemoteCommand,
  type RemoteReply,
} from './remote-protocol.js';

/**
 * Options of {@link RemoteStepClient}.
 *
 * @example
 * new RemoteStepClient(amqp, { replyQueue: `replies.${hostname()}`, replyQueueExpiresMs: 600_000 });
 */
export interface RemoteStepClientOptions {
  /** Name of this runner's reply queue (default `txkit.replies.<uuid>`): one per runner process. */
  replyQueue?: string;
  /** The broker deletes the reply queue after it has been unused this long (default 30 min). */
  replyQueueExpiresMs?: number;
}

type Waiter = (reply: RemoteReply) => void;

/**
 * The runner's side of remote saga steps: sends commands (persistent, confirmed, correlated by saga, step and
 * kind, with a reply-to queue) and hands each reply to the step waiting for it. The reply queue is durable and
 * not exclusive, so replies sent while the connection is down wait there for the reconnect; it expires once
 * its runner is gone. Use it through {@link remoteStep}.
 *
 * @example
 * const remote = new RemoteStepClient(amqp);
 * const charge = remoteStep<BookingInput, Outputs, Payment>(remote, { queue: 'payments.commands' });
 */
export class RemoteStepClient {
  readonly replyQueue: string;
  readonly #connection: AmqpConnection;
  readonly #expiresMs: number;
  readonly #pending = new Map<string, Set<Waiter>>();
  readonly #declaredQueues = new Set<string>();
  #consumer: Promise<AmqpConsumer> | undefined;

  constructor(connection: AmqpConnection, options: RemoteStepClientOptions = {}) {
    this.#connection = connection;
    this.replyQueue = options.replyQueue ?? `txkit.replies.${randomUUID()}`;
    this.#expiresMs = options.replyQueueExpiresMs ?? 30 * 60_000;
  }

  /** Commands waiting for their reply. */
  get pendingCount(): number {
    let count = 0;
    for (const waiters of this.#pending.values()) count += waiters.size;
    return count;
  }

  /** Declares the reply queue and starts consuming it (idempotent; `call` does it on first use). */
  start(): Promise<void> {
    this.#consumer ??= this.#startConsumer().catch((error) => {
      this.#consumer = undefined;
      throw error;
    });
    return this.#consumer.then(() => {});
  }

  /** Stops consuming replies. Waiting calls end only by their signal. */
  async stop(): Promise<void> {
    const consumer = await this.#consumer?.catch(() => undefined);
    this.#consumer = undefined;
    await consumer?.cancel();
  }

  /**
   * Sends `command` to `queue` and resolves with the reply, or rejects when `signal` aborts (the step's
   * timeout: the runner retries, and the participant's barrier makes the second command harmless). A command
   * the broker did not confirm rejects with a {@link RetryableError}.
   */
  async call(queue: string, command: RemoteCommand, signal: AbortSignal): Promise<RemoteReply> {
    await this.start();
    await this.#declareQueue(queue);
    const correlationId = correlationIdOf(command);
    const context = { sagaId: command.sagaId, saga: command.sagaName, step: command.step, queue };
    return new Promise<RemoteReply>((resolve, reject) => {
      const waiters = this.#pending.get(correlationId) ?? new Set<Waiter>();
      this.#pending.set(correlationId, waiters);
      const done = () => {
        waiters.delete(waiter);
        if (waiters.size === 0 && this.#pending.get(correlationId) === waiters)
          this.#pending.delete(correlationId);
        signal.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = (reply) => {
        done();
        resolve(reply);
      };
      const onAbort = () => {
        done();
        reject(signal.reason);
      };
      if (signal.aborted) return onAbort();
      waiters.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#connection
        .publish(
          '',
          queue,
          encodeMessage(command),
          {
            // Persistent on a durable queue and confirmed: once published, the command survives a broker restart.
            persistent: true,
            correlationId,
            replyTo: this.replyQueue,
            messageId: `${correlationId}:${command.attempt}`,
            type: command.kind,
            contentType: 'application/json',
            // The step attempt's trace context (W3C traceparent): the participant's span joins the saga's trace.
            headers: injectTraceContext({}),
          },
          signal,
        )
        .catch((error) => {
          if (signal.aborted) return;
          done();
          reject(
            new RetryableError(`command '${correlationId}' was not confirmed by the broker`, {
              cause: error,
              context,
            }),
          );
        });
    });
  }

  async #startConsumer(): Promise<AmqpConsumer> {
    await this.#connection.addTopology(async (channel) => {
      await channel.assertQueue(this.replyQueue, { durable: true, expires: this.#expiresMs });
    });
    return this.#connection.consume(this.replyQueue, async (message) => this.#onReply(message), {
      prefetch: 256,
      deadLetterExpiresMs: this.#expiresMs,
    });
  }

  async #onReply(message: ConsumeMessage): Promise<void> {
    // Decoded first, waited for or not: a malformed reply is dead-lettered, where someone can see it.
    const reply = decodeReply(message.content);
    const correlationId = message.properties.correlationId as string | undefined;
    const waiters = correlationId ? this.#pending.get(correlationId) : undefined;
    // A reply nobody waits for (its step timed out and finished otherwise) is dropped.
    if (!waiters) return;
    for (const waiter of [...waiters]) waiter(reply);
  }

  #declareQueue(queue: string): Promise<void> {
    if (this.#declaredQueues.has(queue)) return Promise.resolve();
    this.#declaredQueues.add(queue);
    // Declared by both sides: a command published before the participant ever started must not be dropped as
    // unroutable.
    return this.#connection.addTopology(async (channel) => {
      await channel.assertQueue(queue, { durable: true });
    });
  }
}
