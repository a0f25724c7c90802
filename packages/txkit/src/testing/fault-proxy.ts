import { createServer, type Server, type Socket } from 'node:net';
import { hardReset, type LinkHost, ProxyLink } from './fault-proxy-link.js';
import {
  type FaultProxyDirection,
  type FaultProxyMode,
  type FaultProxyModeInput,
  normalizeMode,
} from './fault-proxy-mode.js';

/**
 * Options of {@link startFaultProxy}: the servers to put behind the proxy, by a name of your choice. Each is
 * `{ host, port }` or a URL (`postgres://…`, `amqp://…`; its host and port are used, the port defaulting to
 * 5432 for postgres and 5672 for amqp).
 *
 * @example
 * const options: StartFaultProxyOptions = {
 *   upstreams: { seats: dbs.on('a').connectionString, amqp: testAmqpUrl(), payments: { host: '10.0.0.7', port: 5432 } },
 * };
 */
export interface StartFaultProxyOptions {
  upstreams: Readonly<Record<string, string | { host: string; port: number }>>;
}

/**
 * What one proxied upstream has seen so far (counters since the proxy started).
 *
 * @example
 * const { heldToServer, open, resets } = proxy.stats('payments');
 */
export interface FaultProxyStats {
  /** The mode in force. */
  mode: FaultProxyMode;
  /** Client connections accepted. */
  accepted: number;
  /** Client connections not yet closed. */
  open: number;
  /** Connections the proxy reset on purpose: `cut`, `cut-after`, a blackhole healed with `lose`. */
  resets: number;
  /** Bytes delivered to the server. */
  bytesToServer: number;
  /** Bytes delivered to clients. */
  bytesToClient: number;
  /** Bytes received from clients and not yet delivered (held by a blackhole, delayed, or back-pressured). */
  heldToServer: number;
  /** Bytes received from the server and not yet delivered. */
  heldToClient: number;
}

/**
 * An in-process TCP proxy on 127.0.0.1 that injects network faults between an application and its servers
 * (PostgreSQL, RabbitMQ, anything over TCP: it forwards bytes and knows no protocol). One listener per
 * upstream; each upstream's {@link FaultProxyMode} can be switched at any moment, also while traffic flows.
 *
 * @example
 * const proxy = await startFaultProxy({ upstreams: { payments: dbs.on('b').connectionString } });
 * const payments = new pg.Pool({ connectionString: proxy.url('payments', dbs.on('b').connectionString) });
 * await proxy.set('payments', 'blackhole');
 * const pending = payments.query('SELECT 1');
 * await proxy.until('payments', (s) => s.heldToServer > 0);
 * await proxy.set('payments', 'pass');                      // healed: the query completes
 * await pending;
 * await proxy.close();
 */
export interface FaultProxy {
  /** The names of the upstreams. */
  readonly names: readonly string[];
  /** Where the application should connect to reach the named upstream through the proxy. */
  address(name: string): { host: string; port: number };
  /** The URL with its host and port replaced by the proxy's for the named upstream (user, path, query kept). */
  url(name: string, url: string): string;
  /**
   * Switches the named upstream's mode; resolves once it is in force and the connections it resets have
   * closed. Made to be awaited from a `FaultHook`.
   */
  set(name: string, mode: FaultProxyModeInput): Promise<void>;
  /** The named upstream's counters and mode, now. */
  stats(name: string): FaultProxyStats;
  /**
   * Resolves once `condition` holds for the named upstream's stats (checked now and on every change);
   * rejects after `timeoutMs` (default 10 s) or when the proxy closes.
   */
  until(
    name: string,
    condition: (stats: FaultProxyStats) => boolean,
    timeoutMs?: number,
  ): Promise<FaultProxyStats>;
  /**
   * Closes the listeners and resets every connection; resolves when no socket is left. Idempotent. A
   * connection still open 10 s after its reset (a proxy bug: a reset always closes) is destroyed and named in
   * the error `close()` then rejects with, so that a leak fails the suite instead of hanging it.
   */
  close(): Promise<void>;
}

/** How long `close()` waits for reset connections to close before it destroys what is left and fails. */
const CLOSE_GRACE_MS = 10_000;

interface Waiter {
  condition: (stats: FaultProxyStats) => boolean;
  settle: (error?: Error) => void;
}

class ProxiedUpstream implements LinkHost {
  readonly name: string;
  readonly target: { host: string; port: number };
  readonly server: Server;
  mode: FaultProxyMode = normalizeMode('pass');
  readonly #links = new Set<ProxyLink>();
  readonly #waiters = new Set<Waiter>();
  /** `cut-after` with `connections`: how many of the next connections are still to be armed. */
  #toArm = 0;
  #closing = false;
  #counts = { accepted: 0, resets: 0, bytesToServer: 0, bytesToClient: 0 };

  constructor(name: string, target: { host: string; port: number }) {
    this.name = name;
    this.target = target;
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.#accept(socket));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    // After listening, an error of the listener (rare: e.g. too many open files) must not crash the test run.
    this.server.on('error', () => {});
  }

  get port(): number {
    const address = this.server.address();
    if (typeof address !== 'object' || !address)
      throw new Error(`fault proxy: '${this.name}' is not listening`);
    return address.port;
  }

  async set(mode: FaultProxyMode): Promise<void> {
    if (this.#closing) throw new Error(`fault proxy is closed: cannot set '${this.name}' to ${mode.mode}`);
    const from = this.mode;
    this.mode = mode;
    this.#toArm = mode.mode === 'cut-after' ? (mode.connections ?? 0) : 0;
    const resets = [...this.#links].map((link) => link.switched(from, mode));
    this.changed();
    await Promise.all(resets);
  }

  stats(): FaultProxyStats {
    let heldToServer = 0;
    let heldToClient = 0;
    for (const link of this.#links) {
      heldToServer += link.toServer.held;
      heldToClient += link.toClient.held;
    }
    return { mode: this.mode, ...this.#counts, open: this.#links.size, heldToServer, heldToClient };
  }

  until(condition: (stats: FaultProxyStats) => boolean, timeoutMs: number): Promise<FaultProxyStats> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          waiter.settle(
            new Error(`fault proxy: '${this.name}' not in the awaited state after ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      const waiter: Waiter = {
        condition,
        settle: (error) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          if (error) reject(error);
          else resolve(this.stats());
        },
      };
      this.#waiters.add(waiter);
      this.changed();
    });
  }

  async close(): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const links = [...this.#links];
    // Reset every connection and wait for both of its sockets to close. A reset always closes (a link reset
    // while its FIN was still going out once did not: see hardReset); should one still stay open, it is
    // destroyed and reported rather than waited on for ever.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_GRACE_MS);
    });
    await Promise.race([Promise.all(links.map((link) => link.reset(false))), late]);
    clearTimeout(timer);
    const leaked = this.#links.size;
    for (const link of this.#links) link.abandon();
    for (const waiter of [...this.#waiters]) waiter.settle(new Error(`fault proxy closed`));
    await closed;
    if (leaked > 0) {
      throw new Error(
        `fault proxy: ${leaked} connection(s) of '${this.name}' still open ${CLOSE_GRACE_MS} ms after their reset (destroyed)`,
      );
    }
  }

  delivered(direction: FaultProxyDirection, bytes: number): void {
    if (direction === 'to-server') this.#counts.bytesToServer += bytes;
    else this.#counts.bytesToClient += bytes;
    this.changed();
  }

  injectedReset(): void {
    this.#counts.resets += 1;
  }

  linkClosed(link: ProxyLink): void {
    this.#links.delete(link);
    this.changed();
  }

  changed(): void {
    if (this.#waiters.size === 0) return;
    const stats = this.stats();
    for (const waiter of [...this.#waiters]) {
      let met: boolean;
      try {
        met = waiter.condition(stats);
      } catch (error) {
        waiter.settle(error instanceof Error ? error : new Error(String(error)));
        continue;
      }
      if (met) waiter.settle();
    }
  }

  #accept(socket: Socket): void {
    socket.on('error', () => {});
    this.#counts.accepted += 1;
    if (this.#closing) {
      hardReset(socket);
      return;
    }
    const link = new ProxyLink(this, socket);
    this.#links.add(link);
    if (this.mode.mode === 'cut') {
      void link.reset(true);
      return;
    }
    if (this.mode.mode === 'cut-after') {
      if (this.mode.connections === undefined) link.arm(this.mode);
      else if (this.#toArm > 0) {
        this.#toArm -= 1;
        link.arm(this.mode);
      }
    }
    // In a blackhole the connection to the server waits for the heal, as a SYN would be retried.
    if (this.mode.mode !== 'blackhole') link.connect();
    this.changed();
  }
}

function parseTarget(name: string, upstream: string | { host: string; port: number }) {
  if (typeof upstream !== 'string') return { host: upstream.host, port: upstream.port };
  const url = new URL(upstream);
  const defaultPort = url.protocol.startsWith('amqp') ? 5672 : 5432;
  if (!url.hostname) throw new Error(`fault proxy: upstream '${name}' has no host in its URL`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || defaultPort) };
}

/**
 * Starts a {@link FaultProxy} with one listener on 127.0.0.1 (a free port) per upstream, all in `pass`.
 *
 * @example
 * const proxy = await startFaultProxy({ upstreams: { seats: dbs.on('a').connectionString, amqp: testAmqpUrl() } });
 * const seats = new pg.Pool({ connectionString: proxy.url('seats', dbs.on('a').connectionString) });
 * const amqpUrl = proxy.url('amqp', testAmqpUrl());
 * // in a fault hook: cut the seats server just after its branch prepared
 * const faults: FaultHook = async (site) => {
 *   if (site.point === '2pc:after-prepare' && site.participant === 'seats') await proxy.set('seats', 'cut');
 * };
 * afterAll(() => proxy.close());
 */
export async function startFaultProxy(options: StartFaultProxyOptions): Promise<FaultProxy> {
  const upstreams = new Map<string, ProxiedUpstream>();
  for (const [name, upstream] of Object.entries(options.upstreams)) {
    upstreams.set(name, new ProxiedUpstream(name, parseTarget(name, upstream)));
  }
  const started: ProxiedUpstream[] = [];
  try {
    for (const upstream of upstreams.values()) {
      await upstream.listen();
      started.push(upstream);
    }
  } catch (error) {
    await Promise.all(started.map((u) => u.close()));
    throw error;
  }
  const get = (name: string): ProxiedUpstream => {
    const upstream = upstreams.get(name);
    if (!upstream)
      throw new Error(`fault proxy has no upstream named '${name}' (has: ${[...upstreams.keys()]})`);
    return upstream;
  };
  let closing: Promise<void> | undefined;
  return {
    names: Object.freeze([...upstreams.keys()]),
    address: (name) => ({ host: '127.0.0.1', port: get(name).port }),
    url(name, url) {
      const rewritten = new URL(url);
      rewritten.hostname = '127.0.0.1';
      rewritten.port = String(get(name).port);
      return rewritten.toString();
    },
    set: async (name, mode) => get(name).set(normalizeMode(mode)),
    stats: (name) => get(name).stats(),
    until: (name, condition, timeoutMs = 10_000) => get(name).until(condition, timeoutMs),
    close() {
      closing ??= Promise.all([...upstreams.values()].map((u) => u.close())).then(() => {});
      return closing;
    },
  };
}
