import type pg from 'pg';
import { ResponseTimeoutError } from '../errors.js';
import { isConnectionError } from './queryable.js';

/**
 * A `pg.Pool` as txkit uses it: every round trip bounded on the client side, every borrowed client watched.
 *
 * PostgreSQL's own timeouts (`statement_timeout`, `lock_timeout`) bound what a *server* does; they cannot help
 * when the server never answers at all — a connection lost without a reset (a network partition, a frozen
 * host). Then only the client can give up. Through this wrapper:
 * - `connect()` and every `query()` (on the pool or on a borrowed client, promise or callback form) fail with a
 *   {@link ResponseTimeoutError} after `responseTimeoutMs`, and the connection is destroyed (its socket closed),
 *   so that nothing is ever queued behind the lost answer and the pool never hands the connection out again;
 * - a borrowed client has an `'error'` listener for as long as it is borrowed (and for good once destroyed): a
 *   connection that fails while txkit holds it is reported on its next statement, never as an uncaught
 *   exception.
 *
 * The same pool and bound always give the same wrapper, so that identity comparisons of pools keep working.
 * txkit wraps the pools it is given itself; wrap your own for the work of saga steps on other databases.
 *
 * @example
 * const payments = boundedPool(new pg.Pool({ connectionString: process.env.PAYMENTS_URL }), 5_000);
 * await payments.query('SELECT 1'); // fails with ResponseTimeoutError after 5 s of silence, never hangs
 */
export function boundedPool(pool: pg.Pool, responseTimeoutMs: number): pg.Pool {
  const byBound = wrappers.get(pool) ?? new Map<number, pg.Pool>();
  wrappers.set(pool, byBound);
  const wrapped = byBound.get(responseTimeoutMs) ?? wrapPool(pool, responseTimeoutMs);
  byBound.set(responseTimeoutMs, wrapped);
  return wrapped;
}

const wrappers = new WeakMap<pg.Pool, Map<number, pg.Pool>>();

function wrapPool(pool: pg.Pool, ms: number): pg.Pool {
  const connect = () => connectWithin(pool, ms);
  const query = async (...args: unknown[]) => {
    const client = await connect();
    try {
      const result = await (client.query as (...a: unknown[]) => Promise<unknown>)(...args);
      client.release();
      return result;
    } catch (error) {
      // A broken connection is not given back for reuse.
      client.release(isConnectionError(error) ? (error as Error) : undefined);
      throw error;
    }
  };
  return overriding(pool, { connect, query });
}

/**
 * `target` with some methods replaced; everything else is the target's own, bound to it (pg's methods rely on
 * `this` being the real pool or client, not the proxy).
 */
function overriding<T extends object>(target: T, overrides: Record<string, unknown>): T {
  // Bound once per method, not on every access: the pool's and client's methods are read on every statement.
  const bound = new Map<PropertyKey, { method: unknown; bound: unknown }>();
  return new Proxy(target, {
    get(object, property) {
      if (typeof property === 'string' && Object.hasOwn(overrides, property)) return overrides[property];
      const value = Reflect.get(object, property, object);
      if (typeof value !== 'function') return value;
      const cached = bound.get(property);
      if (cached?.method === value) return cached.bound;
      const fresh = value.bind(object);
      bound.set(property, { method: value, bound: fresh });
      return fresh;
    },
    // Plain properties set through the wrapper land on the target directly.
    set(object, property, value) {
      return Reflect.set(object, property, value, object);
    },
  });
}

/** Clients whose connection txkit destroyed (timed out) or that reported an error while borrowed. */
const broken = new WeakSet<object>();

function connectWithin(pool: pg.Pool, ms: number): Promise<pg.PoolClient> {
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(new ResponseTimeoutError(`no database connection within ${ms} ms`));
    }, ms);
    // pg-pool's callback form: no promise of its own besides this one (a connect per branch of every transaction).
    pool.connect((error, client) => {
      if (timedOut) {
        // A connection that arrives after the deadline goes straight back.
        if (!error && client) client.release();
        return;
      }
      clearTimeout(timer);
      if (error || !client) reject(error ?? new Error('pg-pool gave neither a client nor an error'));
      else resolve(watchClient(client, ms));
    });
  });
}

/** A client's wrapper and its `'error'` listener, made once per client and bound (pools reuse their clients). */
interface Watched {
  client: pg.PoolClient;
  listener: () => void;
}

const watchedClients = new WeakMap<pg.PoolClient, Map<number, Watched>>();

/** The borrowed client with bounded queries and an `'error'` listener until it is given back intact. */
function watchClient(client: pg.PoolClient, ms: number): pg.PoolClient {
  let byBound = watchedClients.get(client);
  if (!byBound) {
    byBound = new Map<number, Watched>();
    watchedClients.set(client, byBound);
  }
  let watched = byBound.get(ms);
  if (!watched) {
    const listener = () => broken.add(client);
    const query = (config: unknown, values?: unknown, callback?: unknown) =>
      queryWithin(client, ms, config, values, callback);
    const release = (error?: Error | boolean) => {
      const destroy = error !== undefined && error !== false ? error : broken.has(client) ? true : undefined;
      // A destroyed connection may still report its end: the listener stays on it.
      if (!destroy) client.off('error', listener);
      client.release(destroy);
    };
    watched = { client: overriding(client, { query, release }), listener };
    byBound.set(ms, watched);
  }
  client.on('error', watched.listener);
  return watched.client;
}

/** pg's `query` in its callback form: the callback as the last argument. */
type QueryWithCallback = (config: unknown, values: unknown, callback: Answer) => unknown;

/** A node-style callback: the error, or the result. */
type Answer = (error: Error | null | undefined, result?: unknown) => void;

/**
 * A bounded client's `query`, in both of pg's forms: with a callback (what txkit's 2PC branches use: their own
 * promise is then the only one made per statement) or returning a promise. The deadline applies to both.
 */
function queryWithin(
  client: pg.PoolClient,
  ms: number,
  config: unknown,
  values: unknown,
  callback: unknown,
): Promise<unknown> | undefined {
  if (typeof values === 'function') return queryWithin(client, ms, config, undefined, values);
  if (typeof callback === 'function') {
    sendWithin(client, ms, config, values, callback as Answer);
    return undefined;
  }
  return new Promise((resolve, reject) =>
    sendWithin(client, ms, config, values, (error, result) => (error ? reject(error) : resolve(result))),
  );
}

/**
 * One round trip with a client-side deadline; on expiry the connection is destroyed and `callback` gets a
 * {@link ResponseTimeoutError} (and nothing more: the query itself fails later with "Connection terminated").
 *
 * This runs for every statement txkit sends, so it costs one callback and one timer: pg is called in its
 * callback form, which skips the promise pg would make (and the one it chains to that for its stack trace).
 */
function sendWithin(
  client: pg.PoolClient,
  ms: number,
  config: unknown,
  values: unknown,
  callback: Answer,
): void {
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  (client.query as QueryWithCallback).call(client, config, values, (error, result) => {
    if (settled) return; // the answer came after the deadline: the caller already has its error
    settled = true;
    if (timer !== undefined) clearTimeout(timer);
    callback(error, result);
  });
  // A call pg refuses at once (it throws) never reaches the connection: no deadline to watch then.
  if (settled) return;
  timer = setTimeout(() => {
    settled = true;
    broken.add(client);
    socketOf(client)?.destroy();
    callback(new ResponseTimeoutError(`the database did not answer within ${ms} ms; connection closed`));
  }, ms);
}

function socketOf(client: pg.PoolClient): { destroy(): void } | undefined {
  return (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
}
