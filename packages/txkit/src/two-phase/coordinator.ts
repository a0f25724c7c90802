import { EventEmitter } from 'eventemitter3';
import { type BackgroundService, startBackgroundService } from '../background-service.js';
import { runMigrations } from '../db/migrations.js';
import { ConfigurationError } from '../errors.js';
import { startSpan } from '../tracing/span.js';
import { CoordinatorLease } from './coordinator-lease.js';
import {
  type ResolvedCoordinatorOptions,
  resolveCoordinatorOptions,
  resolveTransactionOptions,
  type TransactionOptions,
  type TwoPhaseCoordinatorOptions,
} from './coordinator-options.js';
import { showMaxPreparedTransactions } from './decision-log.js';
import type { TwoPhaseEvents } from './events.js';
import { parseGid } from './gid.js';
import { type RecoveryReport, resolveInDoubt } from './resolve-in-doubt.js';
import { type RunContext, TransactionRun, type TwoPhaseTransaction } from './transaction-run.js';
import { twoPhaseMigrations } from './two-phase-migrations.js';

/**
 * Options of {@link TwoPhaseCoordinator.recover}.
 *
 * @example
 * await coordinator.recover({ allCoordinators: true }); // also coordinators this log does not know
 */
export interface RecoverOptions {
  /**
   * Also resolve the gids of coordinators that this decision log does not know (no lease row: a txkit from
   * before leases, or a log that was lost), as if their decisions were in this log — only safe when they are.
   * Dead coordinators that shared this log are taken over without it.
   */
  allCoordinators?: boolean;
}

/**
 * Options of {@link TwoPhaseCoordinator.startRecovery}.
 *
 * @example
 * const service = coordinator.startRecovery({ intervalMs: 10_000 });
 */
export interface RecoveryServiceOptions extends RecoverOptions {
  /** Time between passes (default 5 s). */
  intervalMs?: number;
}

/**
 * Two-phase commit over named `pg.Pool`s, with a durable decision log, presumed abort and in-doubt recovery.
 * Coordinators that share a decision log keep a lease each in it; the recovery of any live one takes over the
 * prepared branches of those whose lease expired, so instance ids may change on every restart.
 *
 * @example
 * const coordinator = new TwoPhaseCoordinator({ id: 'api-1', participants: { seats, payments }, log: seats });
 * await coordinator.migrate();
 * const paymentId = await coordinator.transaction(async (tx) => {
 *   await tx.query('seats', 'UPDATE seats SET booked = true WHERE id = $1', [seatId]);
 *   return (await tx.query('payments', 'INSERT INTO payments (amount) VALUES (10) RETURNING id')).rows[0].id;
 * });
 * const service = coordinator.startRecovery({ intervalMs: 5_000 });
 */
export class TwoPhaseCoordinator extends EventEmitter<TwoPhaseEvents> {
  readonly #options: ResolvedCoordinatorOptions;
  readonly #lease: CoordinatorLease;
  /** The first registration of the lease (before this coordinator's first PREPARE). */
  #registration: Promise<void> | undefined;
  #inFlight = 0;
  /** Gids known to be prepared but unfinished: commit-pending ones and what the last recovery pass left. */
  #inDoubt = new Set<string>();
  /** What every run of this coordinator is given (one object, not one per transaction). */
  readonly #runContext: RunContext;

  constructor(options: TwoPhaseCoordinatorOptions) {
    super();
    this.#options = resolveCoordinatorOptions(options);
    this.#runContext = {
      options: this.#options,
      emit: (event, ...args) => this.#emitSafely(event, ...args),
      listens: (event) => this.listenerCount(event) > 0,
      inDoubt: (gid) => this.#inDoubt.add(gid),
    };
    this.#lease = new CoordinatorLease({
      log: this.#options.log,
      schema: this.#options.schema,
      coordinatorId: this.#options.id,
      leaseMs: this.#options.leaseMs,
      prepareTimeoutMs: this.#options.prepareTimeoutMs,
    });
  }

  /** This coordinator's id (the gid prefix recovery looks for). */
  get id(): string {
    return this.#options.id;
  }

  /** Transactions currently running in this process. */
  get inFlightCount(): number {
    return this.#inFlight;
  }

  /** Prepared branches known to be unfinished (commit pending, or left by the last recovery pass). */
  get inDoubtCount(): number {
    return this.#inDoubt.size;
  }

  /**
   * Start-up: creates the decision log (migrations, under an advisory lock) and checks that every participant
   * has prepared transactions enabled. Throws a `CONFIGURATION` {@link TxkitError} saying how to fix it otherwise.
   *
   * @example
   * await coordinator.migrate();
   */
  async migrate(): Promise<void> {
    await this.checkParticipants();
    await runMigrations(this.#options.log, { schema: this.#options.schema, ...twoPhaseMigrations });
  }

  /**
   * Checks `max_prepared_transactions` > 0 on every participant (PREPARE fails on a server left at the
   * default 0). Called by {@link migrate}.
   *
   * @example
   * await coordinator.checkParticipants();
   */
  async checkParticipants(): Promise<void> {
    for (const [name, pool] of this.#options.participants) {
      const { rows } = await pool.query<{ max: number }>(showMaxPreparedTransactions());
      if (!(Number(rows[0]?.max) > 0)) {
        throw new ConfigurationError(
          `participant "${name}" has max_prepared_transactions = 0, so it cannot take part in two-phase ` +
            'commit. Set it to at least the number of connections that may prepare at once (for example ' +
            '`ALTER SYSTEM SET max_prepared_transactions = 100`, or in postgresql.conf) and restart the server.',
          { context: { participant: name } },
        );
      }
    }
  }

  /**
   * Runs `work` as one all-or-nothing transaction across the participants it touches, and resolves with its
   * result once committed. Rejects with the callback's own error, a {@link PrepareFailedError}, a
   * `TRANSACTION_TIMEOUT` {@link TxkitError} (all rolled back), or an {@link InDoubtError} (outcome left to
   * recovery).
   *
   * @example
   * await coordinator.transaction(async (tx) => {
   *   await tx.query('payments', 'INSERT INTO payments (booking_id, amount) VALUES ($1, $2)', [id, 25]);
   *   await tx.query('tickets', 'INSERT INTO tickets (booking_id) VALUES ($1)', [id]);
   * }, { isolationLevel: 'read committed' });
   */
  async transaction<T>(
    work: (tx: TwoPhaseTransaction) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    const settings = resolveTransactionOptions(this.#options, options);
    // Started before the callback takes any connection (a log pool of one connection shared with a participant
    // would otherwise wait on itself); awaited only before a PREPARE. A no-op once registered.
    const registered = this.#registered();
    const run = new TransactionRun<T>(this.#runContext, settings, registered);
    this.#inFlight++;
    try {
      return await run.execute(work);
    } finally {
      this.#inFlight--;
    }
  }

  /**
   * One recovery pass: commits what the log decided, aborts (fenced) what is undecided past the prepare
   * timeout, deletes expired decisions, and reports what it did.
   *
   * @example
   * const { committed, aborted } = await coordinator.recover();
   */
  async recover(options: RecoverOptions = {}): Promise<RecoveryReport> {
    return startSpan('txkit.2pc.recovery', { 'txkit.coordinator.id': this.#options.id }).around(
      async (span) => {
        const report = await this.#recover(options);
        span.set({
          'txkit.recovery.committed': report.committed.length,
          'txkit.recovery.aborted': report.aborted.length,
          'txkit.recovery.taken_over': report.takenOver.length,
          'txkit.recovery.failed': report.failed.length,
        });
        return report;
      },
    );
  }

  async #recover(options: RecoverOptions): Promise<RecoveryReport> {
    const report = await resolveInDoubt({
      coordinatorId: this.#options.id,
      participants: this.#options.participants,
      log: this.#options.log,
      schema: this.#options.schema,
      prepareTimeoutMs: this.#options.prepareTimeoutMs,
      decisionRetentionMs: this.#options.decisionRetentionMs,
      allCoordinators: options.allCoordinators ?? false,
      onRecovered: (event) => this.#emitSafely('recovered', event),
    });
    const unreachable = new Set(report.unreachable.map((u) => u.participant));
    // What is still in doubt after this pass: what it left, plus what it could not see.
    this.#inDoubt = new Set([
      ...report.waiting.filter((gid) => parseGid(gid)?.coordinatorId === this.#options.id),
      ...report.failed.map((f) => f.gid),
      ...[...this.#inDoubt].filter((gid) => unreachable.has(parseGid(gid)?.participant ?? '')),
    ]);
    return report;
  }

  /**
   * Runs {@link recover} periodically as a background service, and keeps this coordinator's lease alive
   * (renewed three times per `leaseMs`); failures are `'error'` events. `stop()` also ends the lease, so that
   * the other coordinators take over whatever this one leaves prepared without waiting for it to expire.
   *
   * @example
   * const service = coordinator.startRecovery({ intervalMs: 5_000 });
   * process.on('SIGTERM', () => service.stop());
   */
  startRecovery(options: RecoveryServiceOptions = {}): BackgroundService {
    const onError = (error: unknown) => this.#emitSafely('error', error);
    const heartbeat = this.#lease.keepAlive(onError);
    const passes = startBackgroundService({
      intervalMs: options.intervalMs ?? 5_000,
      pass: async () => {
        await this.recover(options);
      },
      onError,
    });
    return {
      get stopped() {
        return passes.stopped;
      },
      runNow: () => passes.runNow(),
      async stop() {
        await passes.stop();
        await heartbeat.stop();
      },
    };
  }

  #registered(): Promise<void> {
    if (!this.#registration) {
      this.#registration = this.#lease.renew().catch((error: unknown) => {
        this.#registration = undefined; // tried again by the next caller
        throw error;
      });
      // Once per registration, not per call: a transaction that never prepares does not await it.
      this.#registration.catch(() => {});
    }
    return this.#registration;
  }

  /** Listeners must not break the protocol: a throwing listener becomes an `'error'` event. */
  #emitSafely<E extends keyof TwoPhaseEvents>(event: E, ...args: Parameters<TwoPhaseEvents[E]>): void {
    try {
      (this.emit as (event: E, ...args: Parameters<TwoPhaseEvents[E]>) => boolean)(event, ...args);
    } catch (error) {
      if (event !== 'error') this.#emitSafely('error', error);
    }
  }
}
