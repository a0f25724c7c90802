import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { EventEmitter } from 'eventemitter3';
import { type BackoffOptions, backoffDelay, sleep } from '../bus/backoff.js';
import { TransportError } from '../errors.js';
import { closeQuietly, withChannel } from './amqp-channel.js';
import { type AmqpConsumer, type ConsumeOptions, ConsumerRegistration } from './amqp-consumer.js';
import type { DeadLetterInfo } from './dead-letter.js';

/**
 * Options of {@link AmqpConnection}.
 *
 * @example
 * new AmqpConnection({ url: process.env.AMQP_URL!, name: 'api-1', heartbeatSeconds: 5 });
 */
export interface AmqpConnectionOptions {
  /** Broker URL, e.g. `amqp://guest:guest@127.0.0.1:5672`. */
  url: string;
  /** Shown by the broker (`connection_name`), e.g. in `rabbitmqctl list_connections`. Default `txkit`. */
  name?: string;
  /** Heartbeat interval in seconds unless the URL sets one (default 10): a dead peer is noticed within ~2×. */
  heartbeatSeconds?: number;
  /** TCP connect and handshake timeout (default 10 s). */
  connectTimeoutMs?: number;
  /** Delay between reconnect attempts. */
  reconnect?: BackoffOptions;
}

/**
 * Events of {@link AmqpConnection}.
 *
 * @example
 * amqp.on('reconnecting', ({ attempt, delayMs }) => log.warn({ attempt, delayMs }, 'RabbitMQ down'));
 */
export interface AmqpConnectionEvents {
  /** A connection is open and the topology is declared; `attempt` is the number of failed attempts before it. */
  connected: (info: { attempt: number }) => void;
  /** The open connection was lost (broker restart, closed from the server, network); a reconnect follows. */
  disconnected: (error: Error | undefined) => void;
  /** A connection attempt failed; the next one starts after `delayMs`. */
  reconnecting: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** The broker stopped reading from this connection (resource alarm); publishes wait. */
  blocked: (reason: string) => void;
  /** The broker reads from this connection again. */
  unblocked: () => void;
  /** A failure that is not a lost connection: a topology declaration, a consumer handler, a cancelled consumer. */
  error: (error: unknown) => void;
  /**
   * A consumed message was moved to its queue's dead-letter queue (`<queue>.dead`) and will not be delivered
   * again: it could not be decoded, or its handler failed on each of its `maxDeliveries` deliveries.
   */
  deadLettered: (info: DeadLetterInfo) => void;
  /** `close()` finished. */
  closed: () => void;
}

/**
 * Declares exchanges, queues and bindings; runs on every (re)connect, as a RabbitMQ restart may have lost them.
 *
 * @example
 * const topology: AmqpTopology = async (ch) => {
 *   await ch.assertQueue('payments.commands', { durable: true });
 * };
 */
export type AmqpTopology = (channel: Channel) => Promise<void>;

type Waiter = { resolve: (model: ChannelModel) => void; reject: (error: unknown) => void };

/**
 * One RabbitMQ connection that stays up: it reconnects with backoff after any loss, re-declares the topology and
 * restarts the consumers on every new connection. Publishes go through a confirm channel and resolve only when
 * the broker has taken responsibility for the message.
 *
 * @example
 * const amqp = new AmqpConnection({ url: 'amqp://guest:guest@127.0.0.1:5672', name: 'payments' });
 * amqp.on('error', (error) => log.error(error));
 * amqp.on('deadLettered', ({ queue, deadLetterQueue, reason }) => log.error({ queue, reason }, `moved to ${deadLetterQueue}`));
 * await amqp.addTopology((ch) => ch.assertQueue('payments', { durable: true }).then(() => {}));
 * await amqp.connect();
 * await amqp.publish('', 'payments', Buffer.from('{}'), { persistent: true });
 * await amqp.close();
 */
export class AmqpConnection extends EventEmitter<AmqpConnectionEvents> {
  readonly #options: AmqpConnectionOptions;
  readonly #stop = new AbortController();
  readonly #topologies: AmqpTopology[] = [];
  readonly #consumers = new Set<ConsumerRegistration>();
  readonly #waiters = new Set<Waiter>();
  #model: ChannelModel | undefined;
  #publisher: Promise<ConfirmChannel> | undefined;
  #drained: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: AmqpConnectionOptions) {
    super();
    this.#options = options;
  }

  /** Whether a connection is open right now. */
  get isConnected(): boolean {
    return this.#model !== undefined;
  }

  /** Whether `close()` has been called. */
  get isClosed(): boolean {
    return this.#stop.signal.aborted;
  }

  /**
   * Starts connecting (idempotent) and resolves once a connection is open. Failed attempts are retried with
   * backoff until `signal` aborts or `close()` is called.
   */
  async connect(signal?: AbortSignal): Promise<void> {
    if (this.isClosed) throw new TransportError('the AMQP connection was closed');
    this.#loop ??= this.#run();
    await this.#whenOpen(signal);
  }

  /**
   * Registers a topology declaration; runs it now when connected, and again after every reconnect. Rejects
   * with {@link TransportError} (the broker's error as its cause) when the declaration fails now, e.g. because
   * the connection was lost under it; it is still declared again after the reconnect.
   */
  async addTopology(topology: AmqpTopology): Promise<void> {
    this.#topologies.push(topology);
    const model = this.#model;
    if (!model) return;
    await declare(model, [topology]).catch((error: unknown) => {
      // amqplib's own errors ("Channel ended, no reply will be forthcoming", …) are not part of the contract.
      throw error instanceof TransportError
        ? error
        : new TransportError('declaring the topology failed', { cause: error });
    });
  }

  /**
   * Publishes one message and resolves when the broker confirms it. Waits for a connection while there is
   * none, and for the confirm, both bounded by `signal`. Rejects with {@link TransportError} when the broker
   * nacks, the channel closes before the confirm, or `signal` aborts first (its reason is the cause): the
   * message may or may not have been routed, so callers retry and consumers dedupe.
   */
  async publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish = {},
    signal?: AbortSignal,
  ): Promise<void> {
    const unconfirmed = () =>
      new TransportError('no broker confirm within the time limit of the publish', { cause: signal?.reason });
    const channel = await this.#publisherChannel(signal).catch((error: unknown) => {
      if (signal?.aborted) throw unconfirmed();
      throw error instanceof TransportError
        ? error
        : new TransportError('publish failed: no channel to publish on', { cause: error });
    });
    // Respect the socket's backpressure: once a write was refused, later publishes wait for 'drain'.
    if (this.#drained) await untilOrAborted(this.#drained, signal, unconfirmed);
    await new Promise<void>((resolve, reject) => {
      // A confirm that never comes (a broker that stopped answering, until the heartbeat notices) ends at the
      // signal, not seconds later: the caller's time limit bounds the whole publish.
      const onAbort = () => reject(unconfirmed());
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const confirmed = (error: unknown) => {
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(new TransportError('the broker did not confirm a publish', { cause: error }));
        else resolve();
      };
      try {
        const ok = channel.publish(exchange, routingKey, content, options, confirmed);
        if (!ok && !this.#drained) {
          this.#drained = new Promise<void>((done) => {
            const finish = () => {
              channel.off('drain', finish).off('close', finish);
              this.#drained = undefined;
              done();
            };
            channel.on('drain', finish).on('close', finish);
          });
        }
      } catch (error) {
        signal?.removeEventListener('abort', onAbort);
        reject(new TransportError('publish failed: the channel is closed', { cause: error }));
      }
    });
  }

  /**
   * Consumes a queue with manual acks and a bounded prefetch, on a channel of its own; restarted after every
   * reconnect. A message is acked when `handler` resolves. When it throws, the message is delivered again after
   * `requeueDelayMs`, at the back of the queue, up to `maxDeliveries` deliveries; after the last one, or at once
   * for a {@link outbox!MalformedMessageError}, it goes to the dead-letter queue `<queue>.dead` (declared then, if
   * missing) and `deadLettered` is emitted. Either copy is confirmed by the broker before the original is acked;
   * if it is not, the original is requeued instead. A message whose handler was running when the connection
   * dropped is redelivered by the broker (it was never acked). Starts connecting if `connect()` was not called
   * yet, without waiting for it.
   */
  async consume(
    queue: string,
    handler: (message: ConsumeMessage) => Promise<void>,
    options: ConsumeOptions = {},
  ): Promise<AmqpConsumer> {
    if (this.isClosed) throw new TransportError('the AMQP connection was closed');
    const registration = new ConsumerRegistration(queue, handler, options, {
      publish: (exchange, routingKey, content, publishOptions, signal) =>
        this.publish(exchange, routingKey, content, publishOptions, signal),
      onError: (error) => this.emit('error', error),
      onDeadLettered: (info) => this.emit('deadLettered', info),
    });
    this.#consumers.add(registration);
    registration.onCancel = () => this.#consumers.delete(registration);
    const model = this.#model;
    if (model) await registration.start(model);
    // A consumer is no use without a connection: start connecting (the loop starts it on every connection).
    else this.#loop ??= this.#run();
    return registration;
  }

  /** Closes the connection and stops reconnecting. Unconfirmed publishes reject. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stop.abort();
    for (const waiter of this.#waiters) waiter.reject(new TransportError('the AMQP connection was closed'));
    this.#waiters.clear();
    await Promise.allSettled([...this.#consumers].map((consumer) => consumer.cancel()));
    const model = this.#model;
    if (model) await closeQuietly(model);
    await this.#loop;
    this.emit('closed');
  }

  #whenOpen(signal?: AbortSignal): Promise<ChannelModel> {
    if (this.#model) return Promise.resolve(this.#model);
    if (this.isClosed) return Promise.reject(new TransportError('the AMQP connection was closed'));
    this.#loop ??= this.#run();
    return new Promise<ChannelModel>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        this.#waiters.delete(waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        resolve: (model) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(model);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #publisherChannel(signal?: AbortSignal): Promise<ConfirmChannel> {
    return this.#whenOpen(signal).then((model) => {
      if (!this.#publisher) {
        const created = model.createConfirmChannel().then((channel) => {
          channel.on('error', () => {});
          // A channel error (e.g. publishing to a missing exchange) closes only this channel: open a new one next time.
          channel.on('close', () => {
            if (this.#publisher === created) this.#publisher = undefined;
          });
          return channel;
        });
        created.catch(() => {
          if (this.#publisher === created) this.#publisher = undefined;
        });
        this.#publisher = created;
      }
      return this.#publisher;
    });
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.isClosed) {
      let model: ChannelModel;
      let lost: Promise<Error | undefined>;
      try {
        ({ model, lost } = await this.#open());
      } catch (error) {
        if (this.isClosed) break;
        failures += 1;
        const delayMs = backoffDelay(failures, this.#options.reconnect);
        this.emit('reconnecting', { attempt: failures, delayMs, error });
        await sleep(delayMs, this.#stop.signal);
        continue;
      }
      for (const waiter of this.#waiters) waiter.resolve(model);
      this.#waiters.clear();
      this.emit('connected', { attempt: failures });
      failures = 0;
      const error = await lost;
      this.#model = undefined;
      this.#publisher = undefined;
      if (this.isClosed) break;
      this.emit('disconnected', error);
    }
  }

  /** Opens a connection, declares the topology, starts the consumers and publishes it; fails as a whole. */
  async #open(): Promise<{ model: ChannelModel; lost: Promise<Error | undefined> }> {
    const { connect } = await import('amqplib');
    const url = new URL(this.#options.url);
    if (!url.searchParams.has('heartbeat')) {
      url.searchParams.set('heartbeat', String(this.#options.heartbeatSeconds ?? 10));
    }
    const model = await connect(url.toString(), {
      // amqplib leaves Nagle's algorithm on: every confirmed publish would then wait ~40 ms for delayed ACKs.
      noDelay: true,
      timeout: this.#options.connectTimeoutMs ?? 10_000,
      clientProperties: { connection_name: this.#options.name ?? 'txkit' },
    });
    const lost = new Promise<Error | undefined>((resolve) => model.once('close', resolve));
    // 'error' is always followed by 'close', which is where the loss is handled.
    model.on('error', () => {});
    model.on('blocked', (reason: string) => this.emit('blocked', reason));
    model.on('unblocked', () => this.emit('unblocked'));
    try {
      if (this.isClosed) throw new TransportError('the AMQP connection was closed');
      // Topologies and consumers registered while this runs are caught up before the connection is published.
      let declared = 0;
      while (
        declared < this.#topologies.length ||
        [...this.#consumers].some((consumer) => !consumer.isStartedOn(model))
      ) {
        const pending = this.#topologies.slice(declared);
        declared += pending.length;
        await declare(model, pending);
        for (const consumer of this.#consumers) await consumer.start(model);
      }
      if (this.isClosed) throw new TransportError('the AMQP connection was closed');
    } catch (error) {
      if (!this.isClosed) this.emit('error', error);
      await closeQuietly(model);
      throw error;
    }
    // Published synchronously after the last catch-up check, so no registration can slip in between.
    this.#model = model;
    return { model, lost };
  }
}

async function declare(model: ChannelModel, topologies: readonly AmqpTopology[]): Promise<void> {
  if (topologies.length === 0) return;
  await withChannel(model, async (channel) => {
    for (const topology of topologies) await topology(channel);
  });
}

/**
 * Waits for `promise`, but no longer than `signal` allows: a socket that never drains (a broker that stopped
 * reading) must not hold a publish past its time limit. Rejects with `onAbort()`'s error.
 */
function untilOrAborted(promise: Promise<void>, signal: AbortSignal | undefined, onAbort: () => Error) {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(onAbort());
  return new Promise<void>((resolve, reject) => {
    const aborted = () => reject(onAbort());
    signal.addEventListener('abort', aborted, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', aborted);
        resolve();
      },
      (error: unknown) => {
        signal.removeEventListener('abort', aborted);
        reject(error);
      },
    );
  });
}
