import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { runMigrations } from '../db/migrations.js';
import type { Queryable } from '../db/queryable.js';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/schema-name.js';
import { injectTraceContext } from '../tracing/message-context.js';
import { outboxMigrations } from './outbox-migrations.js';
import { insertInboxMessage, insertMessage, notifyRelays } from './outbox-sql.js';

/**
 * Options of {@link Outbox}.
 *
 * @example
 * const outbox = new Outbox({ schema: 'billing' });
 */
export interface OutboxOptions {
  /** Schema of the outbox and inbox tables (default `txkit`). */
  schema?: string;
}

/**
 * Options of {@link Outbox.enqueue}.
 *
 * @example
 * await outbox.enqueue(client, 'seat.booked', event, { key: `screening-${id}`, notify: false });
 */
export interface EnqueueOptions {
  /** Ordering key: the relay publishes the messages of one key in the order they were enqueued. */
  key?: string | null;
  /** Stable message id (default: a new UUID). Re-publishing keeps it, so consumers can drop duplicates. */
  messageId?: string;
  /** Extra string headers. */
  headers?: Record<string, string>;
  /**
   * Wake the relays with `pg_notify` at commit (default true). Turn it off inside a transaction that will be
   * prepared for two-phase commit: PostgreSQL refuses PREPARE after NOTIFY; the relay's polling picks the row up.
   */
  notify?: boolean;
}

/**
 * What {@link Outbox.enqueue} wrote.
 *
 * @example
 * const { messageId } = await outbox.enqueue(client, 'seat.booked', event);
 */
export interface EnqueuedMessage {
  id: string;
  messageId: string;
}

/**
 * The transactional outbox: events are written in the caller's own transaction, next to the business change,
 * and published later by an {@link OutboxRelay}. A rolled-back write publishes nothing; a committed one is
 * published even if the process dies right after the commit.
 *
 * @example
 * const outbox = new Outbox();
 * await outbox.migrate(pool);
 * await withTransaction(pool, async (client) => {
 *   await client.query('UPDATE seats SET taken = true WHERE id = $1', [seatId]);
 *   await outbox.enqueue(client, 'seat.booked', { seatId }, { key: screeningId });
 * });
 */
export class Outbox {
  /** The unquoted schema name. */
  readonly schemaName: string;
  readonly #schema: string;

  constructor(options: OutboxOptions = {}) {
    this.schemaName = options.schema ?? DEFAULT_SCHEMA;
    this.#schema = quoteSchema(this.schemaName);
  }

  /** Creates or upgrades the outbox and inbox tables (idempotent, safe from several processes at once). */
  async migrate(pool: pg.Pool): Promise<void> {
    await runMigrations(pool, { schema: this.schemaName, ...outboxMigrations });
  }

  /**
   * Writes one event. Call it on the client of an open transaction: the row commits or rolls back with the
   * business change (that is the whole point), so never on a bare pool.
   */
  async enqueue(
    client: Queryable,
    topic: string,
    payload: unknown,
    options: EnqueueOptions = {},
  ): Promise<EnqueuedMessage> {
    const messageId = options.messageId ?? randomUUID();
    const { rows } = await client.query<{ id: string }>(
      insertMessage(this.#schema, {
        messageId,
        topic,
        key: options.key ?? null,
        payload: payload ?? null,
        // The enqueuing transaction's trace context rides with the message (W3C traceparent), so a consumer's
        // spans join the trace that wrote it, whenever the relay publishes it.
        headers: injectTraceContext({ ...options.headers }) as Record<string, string>,
      }),
    );
    // Delivered at commit only, and not at all on rollback: exactly when there is something to publish.
    if (options.notify !== false) await client.query(notifyRelays(this.schemaName));
    return { id: rows[0]!.id, messageId };
  }

  /**
   * Consumer side: records that `consumer` applied `messageId`, in the consumer's own transaction. Returns
   * false for a message already applied, which the caller then skips; as the record commits with the
   * consumer's change, a redelivery after a crash is recognised too.
   *
   * @example
   * await withTransaction(pool, async (client) => {
   *   if (!(await outbox.acceptOnce(client, 'read-model', message.messageId))) return;
   *   await applyToReadModel(client, message.payload);
   * });
   */
  async acceptOnce(client: Queryable, consumer: string, messageId: string): Promise<boolean> {
    const { rowCount } = await client.query(insertInboxMessage(this.#schema, consumer, messageId));
    return rowCount === 1;
  }
}
