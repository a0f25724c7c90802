import { setMaxListeners } from 'node:events';
import { EventEmitter } from 'eventemitter3';
import type pg from 'pg';
import { type BackgroundService, startBackgroundService } from '../background-service.js';
import type { MessageBus } from '../bus/message-bus.js';
import { boundedPool } from '../db/bounded-pool.js';
import { isConnectionError } from '../db/queryable.js';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/schema-name.js';
import { TransactionAbortedError, TxkitError } from '../errors.js';
import { type FaultHook, isSimulatedCrash, type OutboxFaultPoint } from '../faults.js';
import { claimBatch, countPending, deleteInbox, deleteSent, markSent, type OutboxRow } from './outbox-sql.js';
import { RelayListener } from './relay-listener.js';

/**
 * Options of {@link OutboxRelay}.
 *
 * @example
 * new OutboxRelay({ pool, bus, batchSize: 200, pollIntervalMs: 500, retentionMs: 24 * 3600_000 });
 */
export interface OutboxRelayOptions {
  /** The database holding the outbox table. */
  pool: pg.Pool;
  /** Where the events go: a `RabbitMqBus`, or an `InProcessBus` without a broker. */
  bus: MessageBus;
  /** Schema of the outbox table (default `txkit`). */
  schema?: string;
  /** Name in events and fault sites (default `outbox-relay`). */
  name?: string;
  /** Rows claimed and published per transaction (default 500). */
  batchSize?: number;
  /** Polling interval, the fallback for missed notifications (default 1 s). */
  pollIntervalMs?: number;
  /** Wake up on NOTIFY (default true): it holds one pool connection for LISTEN. */
  listen?: boolean;
  /** How long a batch may wait for its broker confirms before it is rolled back and retried (default 10 s). */
  publishTimeoutMs?: number;
  /** Sent outbox rows and inbox rows are deleted after this long (default 7 days). */
  retentionMs?: number;
  /** Time between cleanup passes (default 1 min). */
  cleanupIntervalMs?: number;
  /**
   * How long the relay waits for any one answer from the database before it gives the connection up for lost
   * (default 30 s): a pass never hangs on a server that stopped answering; it fails and the next one retries.
   */
  responseTimeoutMs?: number;
  /** Fault injection for tests (see `txkit/testing`): called at every `outbox:*` fault point. Unset in production. */
  faults?: FaultHook;
}

/**
 * Events of {@link OutboxRelay}.
 *
 * @example
 * relay.on('published', ({ count }) => metrics.outboxPublished.inc(count));
 */
export interface OutboxRelayEvents {
  /** A batch was published, confirmed and marked sent. */
  published: (batch: { relay: string; count: number; firstId: string; lastId: string }) => void;
  /** A cleanup pass deleted old rows. */
  cleaned: (deleted: { outbox: number; inbox: number }) => void;
  /** A failed pass (database, broker, listener); the rows stay pending and are retried. */
  error: (error: unknown) => void;
}

/** A lost database connection as the documented error (the claim rolled back, the rows stay pending). */
function lostConnection(error: unknown): unknown {
  if (!isConnectionError(error) || error instanceof TxkitError) return error;
  return new TransactionAbortedError(
    'the outbox relay lost its database connection; the batch stays pending',
    {
      cause: error,
    },
  );
}

/**
 * Publishes the outbox: claims pending rows (`FOR UPDATE SKIP LOCKED`, per-key order kept across relays),
 * publishes them with confirms and their stable message id, and marks them sent in the same transaction. Wakes on
 * NOTIFY from `enqueue`, polls as a fallback, and deletes sent rows after the retention period.
 *
 * Delivery is at-least-once: a relay that dies after the broker confirmed a batch and before its commit leaves
 * the rows pending, and they are published again with the same message ids.
 *
 * @example
 * const relay = new OutboxRelay({ pool, bus: new RabbitMqBus(amqp) });
 * relay.on('error', (error) => log.warn(error));
 * relay.start();
 * await relay.stop();
 */
export class OutboxRelay extends EventEmitter<OutboxRelayEvents> {
  readonly name: string;
  readonly #options: OutboxRelayOptions;
  readonly #schemaName: string;
  readonly #schema: string;
  readonly #listener: RelayListener;
  #relayService: BackgroundService | undefined;
  #cleanupService: BackgroundService | undefined;
  #wakeQueued = false;

  constructor(options: OutboxRelayOptions) {
    super();
    this.#options = { ...options, pool: boundedPool(options.pool, options.responseTimeoutMs ?? 30_000) };
    this.name = options.name ?? 'outbox-relay';
    this.#schemaName = options.schema ?? DEFAULT_SCHEMA;
    this.#schema = quoteSchema(this.#schemaName);
    this.#listener = new RelayListener(this.#options.pool, this.#schemaName, () => this.#wake());
  }

  /** Whether the relay is started and not stopped. */
  get running(): boolean {
    return this.#relayService !== undefined && !this.#relayService.stopped;
  }

  /** Starts relaying and cleaning up. Idempotent. */
  start(): void {
    if (this.running) return;
    const onError = (error: unknown) => this.emit('error', error);
    this.#relayService = startBackgroundService({
      intervalMs: this.#options.pollIntervalMs ?? 1_000,
      pass: () => this.#pass(),
      onError,
    });
    this.#cleanupService = startBackgroundService({
      intervalMs: this.#options.cleanupIntervalMs ?? 60_000,
      pass: async () => {
        await this.cleanupOnce();
      },
      onError,
    });
  }

  /** Stops both services, waiting for the batch in progress, and releases the LISTEN connection. */
  async stop(): Promise<void> {
    await Promise.all([this.#relayService?.stop(), this.#cleanupService?.stop()]);
    await this.#listener.close();
  }

  /**
   * Publishes pending rows until none is left to claim; returns how many were published. A pass that fails
   * leaves its batch pending (retried by the next pass) and rejects with a {@link amqp!TransportError} (the broker
   * did not confirm in time, or the channel closed), a {@link amqp!ResponseTimeoutError} (the database did not
   * answer), or a `TRANSACTION_ABORTED` {@link TxkitError} (the database connection was lost: the claim rolled back).
   */
  async relayOnce(): Promise<number> {
    const batchSize = this.#options.batchSize ?? 500;
    let total = 0;
    for (;;) {
      const count = await this.#relayBatch(batchSize);
      total += count;
      if (count < batchSize || this.#relayService?.stopped) return total;
    }
  }

  /** Deletes sent outbox rows and inbox rows older than the retention period. */
  async cleanupOnce(): Promise<{ outbox: number; inbox: number }> {
    const retentionMs = this.#options.retentionMs ?? 7 * 24 * 3600_000;
    const deleted = {
      outbox: await this.#deleteInChunks((limit) => deleteSent(this.#schema, retentionMs, limit)),
      inbox: await this.#deleteInChunks((limit) => deleteInbox(this.#schema, retentionMs, limit)),
    };
    if (deleted.outbox + deleted.inbox > 0) this.emit('cleaned', deleted);
    return deleted;
  }

  /** Rows not yet marked sent. */
  async pendingCount(): Promise<number> {
    const { rows } = await this.#options.pool.query<{ pending: number }>(countPending(this.#schema));
    return rows[0]?.pending ?? 0;
  }

  #wake(): void {
    // Notifications arriving during a pass queue exactly one more pass, however many there are.
    if (this.#wakeQueued || !this.running) return;
    this.#wakeQueued = true;
    void this.#relayService?.runNow();
  }

  async #pass(): Promise<void> {
    this.#wakeQueued = false;
    if (this.#options.listen !== false) {
      // Without a listener the relay still works, by polling; the failure is reported and retried next pass.
      await this.#listener.ensure().catch((error) => this.emit('error', error));
    }
    await this.relayOnce();
  }

  async #relayBatch(limit: number): Promise<number> {
    const client = await this.#options.pool.connect().catch((error: unknown) => {
      throw lostConnection(error);
    });
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<OutboxRow>(
        claimBatch(this.#schema, this.#schemaName, limit, limit),
      );
      if (rows.length === 0) {
        await client.query('COMMIT');
        return 0;
      }
      await this.#fault('outbox:before-publish');
      await this.#publish(rows);
      await this.#fault('outbox:after-publish');
      // Marked sent only after every confirm, in the claim's transaction: a crash before this commit leaves the
      // rows pending, and they are published again (same message ids) rather than lost.
      await client.query(
        markSent(
          this.#schema,
          rows.map((row) => row.id),
        ),
      );
      await client.query('COMMIT');
      this.emit('published', {
        relay: this.name,
        count: rows.length,
        firstId: rows[0]!.id,
        lastId: rows[rows.length - 1]!.id,
      });
      return rows.length;
    } catch (error) {
      // A "dead" relay runs no more SQL: destroying the connection lets PostgreSQL roll back, as after a crash.
      if (isSimulatedCrash(error) || isConnectionError(error)) broken = error as Error;
      else await client.query('ROLLBACK').catch(() => {});
      throw lostConnection(error);
    } finally {
      client.release(broken);
    }
  }

  /**
   * Publishes the batch pipelined: every publish goes out before the first confirm is awaited. All go through
   * one channel in id order, and the broker routes a channel's messages in order, so per-key order holds; if
   * any publish fails, the whole batch stays pending and is published again (consumers drop the duplicates).
   */
  async #publish(rows: readonly OutboxRow[]): Promise<void> {
    const signal = AbortSignal.timeout(this.#options.publishTimeoutMs ?? 10_000);
    // One signal bounds the whole batch; each publish waiting for a connection listens to it.
    setMaxListeners(rows.length + 10, signal);
    const results = await Promise.allSettled(
      rows.map((row) =>
        this.#options.bus.publish(
          {
            topic: row.topic,
            messageId: row.message_id,
            key: row.key,
            payload: row.payload,
            headers: row.headers,
          },
          signal,
        ),
      ),
    );
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) throw (failure as PromiseRejectedResult).reason;
  }

  async #deleteInChunks(statement: (limit: number) => { text: string; values: unknown[] }): Promise<number> {
    const chunk = 1_000;
    let total = 0;
    for (;;) {
      const { rowCount } = await this.#options.pool.query(statement(chunk));
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < chunk) return total;
    }
  }

  async #fault(point: OutboxFaultPoint): Promise<void> {
    await this.#options.faults?.({ point, id: this.name });
  }
}
