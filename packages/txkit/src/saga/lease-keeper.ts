import { SagaLeaseLostError } from '../errors.js';
import { extendLeases } from './saga-log.js';
import type { SagaLogWriter } from './saga-log-writer.js';

/** One saga this runner drives: its lease token and the signal that stops it when the lease is lost. */
export interface HeldLease {
  readonly sagaId: string;
  readonly token: string;
  readonly controller: AbortController;
  /** Local time (ms) until which the lease is known to hold, with a safety margin. */
  deadline: number;
}

/**
 * Keeps the leases of the sagas this runner drives alive with one batched UPDATE per heartbeat, and stops
 * (aborts) a saga whose lease is lost or could not be extended in time: two runners must never run the same
 * step at once, so a runner that cannot prove its lease stops before another one may claim the saga.
 */
export class LeaseKeeper {
  readonly #held = new Map<string, HeldLease>();
  readonly #log: SagaLogWriter;
  readonly #leaseMs: number;
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #beating = false;

  constructor(options: { log: SagaLogWriter; onError: (error: unknown) => void }) {
    this.#log = options.log;
    this.#leaseMs = options.log.leaseMs;
    this.#onError = options.onError;
  }

  /** Ids of the sagas held now. */
  get sagaIds(): string[] {
    return [...this.#held.values()].map((h) => h.sagaId);
  }

  /** Starts keeping a lease that was just written (so it holds for `leaseMs` from about now). */
  hold(sagaId: string, token: string, since = Date.now()): HeldLease {
    const lease = this.create(sagaId, token, since);
    this.track(lease);
    return lease;
  }

  /** A lease object for a saga row not written yet; {@link track} it once the row is committed. */
  create(sagaId: string, token: string, since = Date.now()): HeldLease {
    return { sagaId, token, controller: new AbortController(), deadline: this.#deadlineFrom(since) };
  }

  /** Starts heartbeating a lease. */
  track(lease: HeldLease): void {
    this.#held.set(lease.token, lease);
    this.#schedule();
  }

  /** Notes that a fenced log write extended the lease (it was issued at `since`). */
  renewed(lease: HeldLease, since: number): void {
    lease.deadline = this.#deadlineFrom(since);
  }

  /** Stops keeping a lease (saga finished, lost, or the process "died"). */
  release(lease: HeldLease): void {
    this.#held.delete(lease.token);
    if (this.#held.size === 0 && this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Marks a lease lost and aborts the saga's work. */
  lost(lease: HeldLease): void {
    this.release(lease);
    lease.controller.abort(leaseLostError(lease.sagaId));
  }

  /**
   * Whether a lease is known to hold now (not lost, within its local deadline): then {@link ensure} has nothing
   * to do, and a caller that checks this first spares the promise.
   */
  holds(lease: HeldLease): boolean {
    return !lease.controller.signal.aborted && Date.now() <= lease.deadline;
  }

  /**
   * Makes sure a lease still holds before an attempt starts. One past its local deadline (a slow heartbeat under
   * load) is renewed first — safe between attempts, since nothing runs — and given up only when the renewal
   * finds another runner's token.
   */
  async ensure(lease: HeldLease): Promise<void> {
    if (lease.controller.signal.aborted) throw leaseLostError(lease.sagaId);
    if (Date.now() <= lease.deadline) return;
    const since = Date.now();
    const { rows } = await this.#log.query(extendLeases(this.#log.schema, [lease], this.#leaseMs));
    if (rows.length === 1 && !lease.controller.signal.aborted) {
      this.renewed(lease, since);
      return;
    }
    this.lost(lease);
    throw leaseLostError(lease.sagaId);
  }

  // A write issued at `since` sets lease_until = now() + leaseMs on the server; keep a third of it as margin
  // for clock rate differences and network delay.
  #deadlineFrom(since: number): number {
    return since + (this.#leaseMs * 2) / 3;
  }

  #schedule(): void {
    if (this.#timer || this.#held.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#beat().finally(() => this.#schedule());
    }, this.#leaseMs / 4);
    this.#timer.unref();
  }

  async #beat(): Promise<void> {
    if (this.#beating || this.#held.size === 0) return;
    this.#beating = true;
    const since = Date.now();
    const leases = [...this.#held.values()];
    try {
      const { rows } = await this.#log.query<{ lease_token: string }>(
        extendLeases(this.#log.schema, leases, this.#leaseMs),
      );
      const valid = new Set(rows.map((r) => r.lease_token));
      for (const lease of leases) {
        if (!this.#held.has(lease.token)) continue;
        if (valid.has(lease.token)) this.renewed(lease, since);
        else this.lost(lease);
      }
    } catch (error) {
      this.#onError(error);
    } finally {
      this.#beating = false;
    }
    // Leases that could not be renewed in time are given up before they can expire on the server.
    const now = Date.now();
    for (const lease of this.#held.values()) if (now > lease.deadline) this.lost(lease);
  }
}

/** The error that stops a runner that lost its lease on a saga. */
export function leaseLostError(sagaId: string): SagaLeaseLostError {
  return new SagaLeaseLostError(`lease on saga ${sagaId} lost: another runner drives it now`, {
    context: { sagaId },
  });
}
