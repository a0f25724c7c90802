import { hostname } from 'node:os';
import type pg from 'pg';
import { type BackgroundService, startBackgroundService } from '../background-service.js';
import { releaseLease, renewLease } from './decision-log.js';

/** What a coordinator's lease needs to know. */
export interface CoordinatorLeaseOptions {
  log: pg.Pool;
  schema: string;
  coordinatorId: string;
  leaseMs: number;
  prepareTimeoutMs: number;
}

/**
 * A coordinator's liveness in the decision log it shares with others: a row with a lease. While the lease holds,
 * the others leave this coordinator's prepared branches to it; once it expires (the process died, or cannot
 * reach the log), the recovery of any of them takes those branches over. Losing the lease costs nothing but
 * spurious aborts: every decision still goes through the fence.
 *
 * @example
 * const lease = new CoordinatorLease({ log, schema: 'txkit', coordinatorId: 'api-1', leaseMs: 30_000,
 *   prepareTimeoutMs: 10_000 });
 * const heartbeat = lease.keepAlive((error) => log.warn(error));
 * await heartbeat.stop(); // also ends the lease, so the others take over at once
 */
export class CoordinatorLease {
  readonly #o: CoordinatorLeaseOptions;
  readonly #process = `${hostname()}:${process.pid}`;

  constructor(options: CoordinatorLeaseOptions) {
    this.#o = options;
  }

  /** Registers the coordinator, or extends its lease by `leaseMs` from now. */
  async renew(): Promise<void> {
    const { log, schema, coordinatorId, leaseMs, prepareTimeoutMs } = this.#o;
    await log.query(renewLease(schema, { coordinatorId, leaseMs, prepareTimeoutMs, process: this.#process }));
  }

  /**
   * Renews the lease three times per lease period until stopped; stopping ends the lease. A renewal that fails
   * goes to `onError` and is tried again at the next beat: two missed beats in a row still leave a third of
   * the lease.
   */
  keepAlive(onError: (error: unknown) => void): BackgroundService {
    const heartbeat = startBackgroundService({
      intervalMs: Math.max(1, Math.floor(this.#o.leaseMs / 3)),
      pass: () => this.renew(),
      onError,
    });
    return {
      get stopped() {
        return heartbeat.stopped;
      },
      runNow: () => heartbeat.runNow(),
      stop: async () => {
        if (heartbeat.stopped) return;
        await heartbeat.stop();
        await this.#o.log.query(releaseLease(this.#o.schema, this.#o.coordinatorId)).catch(onError);
      },
    };
  }
}
