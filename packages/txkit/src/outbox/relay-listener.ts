import type pg from 'pg';
import { OUTBOX_CHANNEL } from './outbox-sql.js';

/**
 * The relay's LISTEN connection: one pool client held open, calling `onNotify` for the outbox notifications of
 * its schema. When the connection breaks it is dropped and re-established by the next `ensure()`; notifications
 * sent meanwhile are lost, which the relay's polling covers.
 * @internal
 */
export class RelayListener {
  readonly #pool: pg.Pool;
  readonly #schemaName: string;
  readonly #onNotify: () => void;
  #client: pg.PoolClient | undefined;
  #connecting: Promise<void> | undefined;

  constructor(pool: pg.Pool, schemaName: string, onNotify: () => void) {
    this.#pool = pool;
    this.#schemaName = schemaName;
    this.#onNotify = onNotify;
  }

  /** Listens, unless already listening. */
  ensure(): Promise<void> {
    if (this.#client) return Promise.resolve();
    this.#connecting ??= this.#listen().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /** Stops listening and gives the connection back. */
  async close(): Promise<void> {
    await this.#connecting?.catch(() => {});
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    try {
      // A pooled connection must not go back to the pool still subscribed.
      await client.query('UNLISTEN *');
      client.release();
    } catch (error) {
      client.release(error as Error);
    }
  }

  async #listen(): Promise<void> {
    const client = await this.#pool.connect();
    client.on('notification', (message) => {
      if (message.channel === OUTBOX_CHANNEL && message.payload === this.#schemaName) this.#onNotify();
    });
    client.on('error', (error) => {
      if (this.#client !== client) return;
      this.#client = undefined;
      client.release(error);
    });
    try {
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
    this.#client = client;
  }
}
