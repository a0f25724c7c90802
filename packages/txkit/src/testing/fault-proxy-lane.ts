import type { Socket } from 'node:net';
import type { FaultProxyDirection, FaultProxyMode } from './fault-proxy-mode.js';

/** Bytes a lane holds before it stops reading its source (TCP back-pressure then holds the rest). */
const HIGH_WATER_BYTES = 1 << 20;

type Item = { kind: 'data'; chunk: Buffer; dueAt: number } | { kind: 'end' | 'reset'; dueAt: number };

/** What a lane needs from its connection. */
export interface LaneOwner {
  readonly mode: FaultProxyMode;
  /** Bytes handed to the destination socket. */
  delivered(direction: FaultProxyDirection, bytes: number): void;
  /** The lane's cut-after budget ran out: stop both lanes now; the returned function resets the connection. */
  budgetSpent(): () => void;
  /** The source was reset by its peer: pass the reset on. */
  resetReceived(): void;
  /** Something a waiter may look at changed. */
  changed(): void;
}

/**
 * One direction of one proxied connection: an ordered queue of chunks, ends (FIN) and resets (RST) from the
 * source, delivered to the destination as the upstream's mode allows. Everything goes through the queue, even
 * in `pass`, so that no mode switch can reorder the stream.
 */
export class Lane {
  readonly direction: FaultProxyDirection;
  /** Bytes that may still pass before the connection is cut (`cut-after`), or undefined. */
  budget: number | undefined;
  readonly #owner: LaneOwner;
  readonly #pauseSource: (paused: boolean) => void;
  readonly #queue: Item[] = [];
  #held = 0;
  #lastDueAt = 0;
  #dest: Socket | undefined;
  #waitingForDrain = false;
  #sourcePaused = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(owner: LaneOwner, direction: FaultProxyDirection, pauseSource: (paused: boolean) => void) {
    this.#owner = owner;
    this.direction = direction;
    this.#pauseSource = pauseSource;
  }

  /** Bytes received from the source and not yet delivered. */
  get held(): number {
    return this.#held;
  }

  /** Whether anything (bytes, an end, a reset) waits to be delivered. */
  get holding(): boolean {
    return this.#queue.length > 0;
  }

  /** The destination is connected: start delivering. */
  attach(dest: Socket): void {
    this.#dest = dest;
    dest.on('drain', () => {
      this.#waitingForDrain = false;
      this.pump();
    });
    this.pump();
  }

  push(kind: 'data' | 'end' | 'reset', chunk?: Buffer): void {
    if (this.#stopped) return;
    const mode = this.#owner.mode;
    const now = performance.now();
    // Never earlier than the item before it: a lower latency set meanwhile must not reorder the stream.
    const dueAt = mode.mode === 'latency' ? Math.max(now + mode.ms, this.#lastDueAt) : now;
    this.#lastDueAt = dueAt;
    if (kind === 'data' && chunk) {
      this.#queue.push({ kind, chunk, dueAt });
      this.#held += chunk.length;
      if (this.#held > HIGH_WATER_BYTES && !this.#sourcePaused) {
        this.#sourcePaused = true;
        this.#pauseSource(true);
      }
    } else if (kind !== 'data') {
      this.#queue.push({ kind, dueAt });
    }
    this.#owner.changed();
    this.pump();
  }

  /** A blackhole ended into `latency`: what it held waits that long from now, as if it had just arrived. */
  delayHeld(ms: number): void {
    const dueAt = performance.now() + ms;
    for (const item of this.#queue) item.dueAt = Math.max(item.dueAt, dueAt);
    this.#lastDueAt = Math.max(this.#lastDueAt, dueAt);
  }

  /** Delivers whatever the mode lets through now, and arms a timer for the next delayed item. */
  pump(): void {
    this.#clearTimer();
    const dest = this.#dest;
    while (!this.#stopped && dest && !this.#waitingForDrain && this.#queue.length > 0) {
      const mode = this.#owner.mode;
      if (mode.mode === 'blackhole' || mode.mode === 'cut') return;
      const head = this.#queue[0]!;
      if (mode.mode === 'latency') {
        const waitMs = head.dueAt - performance.now();
        if (waitMs > 0) {
          // Rounded up and re-checked on wake-up: the delay is a lower bound.
          this.#timer = setTimeout(() => this.pump(), Math.ceil(waitMs));
          return;
        }
      }
      this.#queue.shift();
      this.#deliver(head, dest);
    }
    if (this.#sourcePaused && this.#held <= HIGH_WATER_BYTES && !this.#stopped) {
      this.#sourcePaused = false;
      this.#pauseSource(false);
    }
  }

  /** The connection is gone: drop what is held and deliver nothing more. */
  stop(): void {
    this.#stopped = true;
    this.#clearTimer();
    this.#queue.length = 0;
    this.#held = 0;
  }

  #deliver(item: Item, dest: Socket): void {
    if (item.kind !== 'data') {
      if (item.kind === 'reset') this.#owner.resetReceived();
      else if (!dest.destroyed) dest.end();
      return;
    }
    let chunk = item.chunk;
    this.#held -= chunk.length;
    const spent = this.budget !== undefined && chunk.length >= this.budget;
    if (spent) chunk = chunk.subarray(0, this.budget);
    if (dest.destroyed || !dest.writable) {
      // The destination closed (e.g. the server hung up): the bytes have nowhere to go.
      this.#owner.changed();
      return;
    }
    if (spent) {
      // Both lanes stop now; the reset follows once the last permitted bytes were handed to the kernel.
      const reset = this.#owner.budgetSpent();
      if (chunk.length === 0) {
        reset();
        return;
      }
      this.#owner.delivered(this.direction, chunk.length);
      dest.write(chunk, () => reset());
      return;
    }
    if (this.budget !== undefined) this.budget -= chunk.length;
    this.#owner.delivered(this.direction, chunk.length);
    if (!dest.write(chunk)) this.#waitingForDrain = true;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
