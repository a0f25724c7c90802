import { connect, type Socket } from 'node:net';
import { Lane, type LaneOwner } from './fault-proxy-lane.js';
import type { FaultProxyDirection, FaultProxyMode } from './fault-proxy-mode.js';

/** What a connection needs from the upstream it belongs to. */
export interface LinkHost {
  readonly mode: FaultProxyMode;
  readonly target: { host: string; port: number };
  delivered(direction: FaultProxyDirection, bytes: number): void;
  /** The proxy reset a connection on purpose (a fault, not a peer's reset passed on). */
  injectedReset(): void;
  linkClosed(link: ProxyLink): void;
  changed(): void;
}

/**
 * Resets a socket (RST, so the peer reads ECONNRESET), or destroys it where no reset is possible: a socket
 * still connecting has no connection to reset, and one whose `end()` is still under way cannot be reset.
 *
 * The second case is the cause of links that stayed open after their reset: the lane delivers a FIN
 * (`end()`) and a fault resets the same socket before the shutdown went out (the same tick, or while the
 * peer does not read). libuv refuses to reset a stream with a shutdown pending (`EINVAL`), and Node then
 * drops the handle without closing it: no 'close' event ever, and the connection stays open for good. A plain
 * destroy closes it; the peer reads the FIN already on its way, then nothing more.
 */
export function hardReset(socket: Socket): void {
  if (socket.destroyed) return;
  const shutdownUnderWay = socket.writableEnded && !socket.writableFinished;
  if (socket.connecting || shutdownUnderWay) socket.destroy();
  else socket.resetAndDestroy();
}

/** One client connection and its connection to the upstream server, with a lane for each direction. */
export class ProxyLink implements LaneOwner {
  readonly #host: LinkHost;
  readonly #client: Socket;
  #server: Socket | undefined;
  readonly toServer: Lane;
  readonly toClient: Lane;
  #open = 1;
  #finished = false;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;

  constructor(host: LinkHost, client: Socket) {
    this.#host = host;
    this.#client = client;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.toServer = new Lane(this, 'to-server', (paused) => (paused ? client.pause() : client.resume()));
    this.toClient = new Lane(this, 'to-client', (paused) =>
      paused ? this.#server?.pause() : this.#server?.resume(),
    );
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.toServer.push('data', chunk));
    client.on('end', () => this.toServer.push('end'));
    client.on('error', () => {
      // Nothing reached the server yet: there is nothing to pass the reset on to.
      if (this.#server) this.toServer.push('reset');
      else this.reset(false);
    });
    client.on('close', () => this.#socketClosed());
    this.toClient.attach(client);
  }

  get mode(): FaultProxyMode {
    return this.#host.mode;
  }

  /** Whether the connection to the server was opened (it is not during a blackhole). */
  get connected(): boolean {
    return this.#server !== undefined;
  }

  /** Opens the connection to the server; what the client sent meanwhile follows once it is up. */
  connect(): void {
    if (this.#server || this.#finished) return;
    const server = connect({ ...this.#host.target, allowHalfOpen: true });
    this.#server = server;
    this.#open += 1;
    let up = false;
    server.on('connect', () => {
      up = true;
      server.setNoDelay(true);
      this.toServer.attach(server);
    });
    server.on('data', (chunk: Buffer) => this.toClient.push('data', chunk));
    server.on('end', () => this.toClient.push('end'));
    server.on('error', () => {
      // A server that cannot be reached: the client sees its connection reset.
      if (up) this.toClient.push('reset');
      else this.reset(false);
    });
    server.on('close', () => this.#socketClosed());
  }

  /** Resets both sides (RST) and drops what is held; resolves once both sockets closed. */
  reset(injected: boolean): Promise<void> {
    if (!this.#finished && injected) this.#host.injectedReset();
    this.#finished = true;
    this.toServer.stop();
    this.toClient.stop();
    hardReset(this.#client);
    if (this.#server) hardReset(this.#server);
    this.#host.changed();
    return this.closed;
  }

  /**
   * The last resort of `close()`: destroys both sockets outright and counts the link closed, whether or not
   * their 'close' events ever come.
   */
  abandon(): void {
    this.#client.destroy();
    this.#server?.destroy();
    this.#open = 1;
    this.#socketClosed();
  }

  /** Applies a switch of the upstream's mode from `from` to `to` (already in force). */
  switched(from: FaultProxyMode, to: FaultProxyMode): Promise<void> | undefined {
    if (this.#finished) return undefined;
    if (to.mode === 'cut') return this.reset(true);
    if (from.mode === 'blackhole' && to.mode !== 'blackhole') {
      const held = this.toServer.holding || this.toClient.holding || !this.connected;
      if (from.onHeal === 'lose' && held) return this.reset(true);
      if (to.mode === 'latency') {
        this.toServer.delayHeld(to.ms);
        this.toClient.delayHeld(to.ms);
      }
      this.connect();
    }
    this.arm(to.mode === 'cut-after' && to.connections === undefined ? to : undefined);
    this.toServer.pump();
    this.toClient.pump();
    return undefined;
  }

  /** Arms a `cut-after` budget on this connection (counting from now), or disarms it. */
  arm(mode: Extract<FaultProxyMode, { mode: 'cut-after' }> | undefined): void {
    this.toServer.budget = mode?.direction === 'to-server' ? mode.bytes : undefined;
    this.toClient.budget = mode?.direction === 'to-client' ? mode.bytes : undefined;
  }

  delivered(direction: FaultProxyDirection, bytes: number): void {
    this.#host.delivered(direction, bytes);
  }

  budgetSpent(): () => void {
    this.toServer.stop();
    this.toClient.stop();
    return () => void this.reset(true);
  }

  resetReceived(): void {
    void this.reset(false);
  }

  changed(): void {
    this.#host.changed();
  }

  #socketClosed(): void {
    this.#open -= 1;
    if (this.#open > 0) return;
    this.#finished = true;
    this.toServer.stop();
    this.toClient.stop();
    this.#host.linkClosed(this);
    this.#resolveClosed();
  }
}
