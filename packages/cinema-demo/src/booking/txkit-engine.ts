import type pg from 'pg';
import { type BackgroundService, migrateBarrier, SagaRunner, TwoPhaseCoordinator } from 'txkit';
import type { FaultHook } from 'txkit/testing';
import type { FaultSettings } from '../config.js';
import type { Databases } from '../db/databases.js';
import { limitsToSet } from '../db/wait-limits.js';
import type { SeatEventOutbox } from '../events/seat-events.js';
import { WaterfallRecorder } from '../observability/waterfall-recorder.js';
import type { BookingExecutor, BookingMode, EngineCallOptions } from './booking-executor.js';
import type { WaterfallData } from './booking-waterfall.js';
import type { BookingPlan, BookingResult } from './outcome.js';
import { bookBySaga, bookSeatsSaga, cancelBookingSaga, cancelBySaga } from './saga-booking.js';
import { bookByTwoPhase, cancelByTwoPhase } from './two-phase-booking.js';
import { TxkitOperationsView } from './txkit-operations-view.js';

/** The database each saga step writes in: its lane in the booking's waterfall. */
const LANE_OF_STEP: Record<string, string> = {
  'reserve-seats': 'seats',
  'confirm-booking': 'seats',
  'release-seats': 'seats',
  'mark-cancelled': 'seats',
  'charge-payment': 'payments',
  'refund-payment': 'payments',
  'issue-tickets': 'tickets',
  'void-tickets': 'tickets',
};

export interface TxkitEngineOptions {
  dbs: Databases;
  /** This instance's id: the 2PC gid prefix and the saga runner's owner name. */
  instanceId: string;
  /** Seat events for sagas (may NOTIFY the relay at commit). */
  outbox: SeatEventOutbox;
  /** Seat events inside 2PC branches (must not NOTIFY: PREPARE refuses it). */
  preparedOutbox: SeatEventOutbox;
  faults: FaultSettings;
  /**
   * Bounds every lock wait of every saga step, compensation and 2PC branch: by the pools' connections when they
   * carry it (`openDatabases`), otherwise set by each transaction.
   */
  lockTimeoutMs: number;
  /** Bounds every statement of the same (default: the server's `statement_timeout`), the same way. */
  statementTimeoutMs?: number;
  prepareTimeoutMs: number;
  /** Interval of the recovery passes (in-doubt 2PC branches, sagas whose runner died). */
  recoveryIntervalMs?: number;
  onError?: (error: unknown) => void;
  /** How long a saga runner's claim lasts without renewal (txkit's default 30 s). */
  sagaLeaseMs?: number;
  /** How long the coordinator counts as alive without renewing its lease (txkit's default 30 s). */
  coordinatorLeaseMs?: number;
  /** Receives each finished booking's or cancellation's timing (the waterfall store queues it). */
  onWaterfall?: (bookingId: string, data: WaterfallData) => void;
  /** @internal Fault injection for crash tests, passed to the coordinator and the saga runner. */
  faultHook?: FaultHook;
}

/**
 * The booking engine over txkit: a {@link TwoPhaseCoordinator} over the three databases (decisions logged in the
 * seats database) and a {@link SagaRunner} (log in the seats database) whose steps guard each participant's
 * local transaction with the barrier. It executes bookings; what they look like to operators is its `view`.
 *
 * @example
 * const engine = new TxkitBookingEngine({ dbs, instanceId: 'api-1', outbox, preparedOutbox, faults, ... });
 * await engine.migrate();
 * await engine.start();
 */
export class TxkitBookingEngine implements BookingExecutor {
  readonly coordinator: TwoPhaseCoordinator;
  readonly runner: SagaRunner;
  /** The operations view of this engine's transactions (recent, in doubt, stuck; bookings' timelines). */
  readonly view: TxkitOperationsView;
  readonly #o: TxkitEngineOptions;
  readonly #book: ReturnType<typeof bookSeatsSaga>;
  readonly #cancel: ReturnType<typeof cancelBookingSaga>;
  readonly #waterfalls: WaterfallRecorder;
  readonly #timedCoordinator: Pick<TwoPhaseCoordinator, 'transaction'>;
  #services: BackgroundService[] = [];

  constructor(o: TxkitEngineOptions) {
    this.#o = o;
    const { seats, payments, tickets } = o.dbs;
    const limits = { lockTimeoutMs: o.lockTimeoutMs, statementTimeoutMs: o.statementTimeoutMs };
    // What the pools' connections do not carry already, txkit sets with each transaction it begins: a branch
    // on any of the three pools, a local step on the seats pool (nothing, for pools from openDatabases).
    const branchLimits = Object.assign(
      {},
      ...[seats, payments, tickets].map((pool) => limitsToSet(pool, limits)),
    );
    const localStepLimits = limitsToSet(seats, limits);
    this.coordinator = new TwoPhaseCoordinator({
      id: o.instanceId,
      participants: { seats, payments, tickets },
      log: seats,
      prepareTimeoutMs: o.prepareTimeoutMs,
      ...branchLimits,
      leaseMs: o.coordinatorLeaseMs,
      faults: o.faultHook,
    });
    const sagaOptions = { dbs: o.dbs, outbox: o.outbox, faults: o.faults, limits };
    this.#book = bookSeatsSaga(sagaOptions);
    this.#cancel = cancelBookingSaga(sagaOptions);
    this.runner = new SagaRunner({
      pool: seats,
      id: o.instanceId,
      sagas: [this.#book, this.#cancel],
      leaseMs: o.sagaLeaseMs,
      ...localStepLimits,
      faults: o.faultHook,
    });
    const onError = o.onError ?? (() => {});
    this.coordinator.on('error', onError);
    this.runner.on('error', onError);
    this.view = new TxkitOperationsView({
      coordinator: this.coordinator,
      runner: this.runner,
      dbs: o.dbs,
      sagaNames: { book: this.#book.name, cancel: this.#cancel.name },
    });
    this.#waterfalls = new WaterfallRecorder({
      runner: this.runner,
      coordinator: this.coordinator,
      sagaNames: { book: this.#book.name, cancel: this.#cancel.name },
      laneOfStep: LANE_OF_STEP,
      onRecorded: o.onWaterfall ?? (() => {}),
    });
    this.#timedCoordinator = this.#waterfalls.timing(this.coordinator);
  }

  /** Creates txkit's tables: decision log and saga log in seats, a barrier table in each participant. */
  async migrate(): Promise<void> {
    await this.coordinator.migrate();
    await this.runner.migrate();
    for (const pool of [this.#o.dbs.seats, this.#o.dbs.payments, this.#o.dbs.tickets] as pg.Pool[]) {
      await migrateBarrier(pool);
    }
    await this.coordinator.checkParticipants();
  }

  bookBySaga(plan: BookingPlan, options?: EngineCallOptions): Promise<BookingResult> {
    return bookBySaga(this.runner, this.#book, plan, options);
  }

  bookByTwoPhase(plan: BookingPlan): Promise<BookingResult> {
    return bookByTwoPhase(this.#twoPhaseOptions(), plan);
  }

  cancel(mode: BookingMode, plan: BookingPlan, options?: EngineCallOptions): Promise<void> {
    return mode === 'saga'
      ? cancelBySaga(this.runner, this.#cancel, plan, options)
      : cancelByTwoPhase(this.#twoPhaseOptions(), plan);
  }

  async start(): Promise<void> {
    const intervalMs = this.#o.recoveryIntervalMs ?? 2_000;
    this.#services = [
      this.coordinator.startRecovery({ intervalMs }),
      this.runner.startRecovery({ intervalMs }),
    ];
  }

  async stop(): Promise<void> {
    await Promise.all(this.#services.map((s) => s.stop()));
    this.#services = [];
    await this.runner.close();
  }

  #twoPhaseOptions() {
    return {
      coordinator: this.#timedCoordinator,
      outbox: this.#o.preparedOutbox,
      faults: this.#o.faults,
      onTransaction: (transactionId: string, bookingId: string, run: 'booking' | 'cancellation') => {
        this.view.timelines.link(transactionId, bookingId);
        this.#waterfalls.linkTransaction(transactionId, bookingId, run);
      },
    };
  }
}
