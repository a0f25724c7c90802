import type pg from 'pg';
import {
  type BackgroundService,
  type FaultHook,
  migrateBarrier,
  SagaRunner,
  TwoPhaseCoordinator,
} from 'txkit';
import type { FaultSettings } from '../config.js';
import type { Databases } from '../db/databases.js';
import type { SeatEventOutbox } from '../events/seat-events.js';
import type { BookingEngine, BookingMode, EngineCallOptions, TransactionsView } from './booking-engine.js';
import { BookingTimeline, type TimelineEvent, timelineFromSagaLog } from './booking-timeline.js';
import type { BookingPlan, BookingResult } from './outcome.js';
import { bookBySaga, bookSeatsSaga, cancelBookingSaga, cancelBySaga } from './saga-booking.js';
import { SagaMonitor } from './saga-monitor.js';
import { bookByTwoPhase, cancelByTwoPhase } from './two-phase-booking.js';
import { TwoPhaseMonitor } from './two-phase-monitor.js';

export interface TxkitEngineOptions {
  dbs: Databases;
  /** This instance's id: the 2PC gid prefix and the saga runner's owner name. */
  instanceId: string;
  /** Seat events for sagas (may NOTIFY the relay at commit). */
  outbox: SeatEventOutbox;
  /** Seat events inside 2PC branches (must not NOTIFY: PREPARE refuses it). */
  preparedOutbox: SeatEventOutbox;
  faults: FaultSettings;
  /** Bounds every lock wait of every saga step, compensation and 2PC branch. */
  lockTimeoutMs: number;
  /** Bounds every statement of the same (default: the server's `statement_timeout`). */
  statementTimeoutMs?: number;
  prepareTimeoutMs: number;
  /** Interval of the recovery passes (in-doubt 2PC branches, sagas whose runner died). */
  recoveryIntervalMs?: number;
  onError?: (error: unknown) => void;
  /** How long a saga runner's claim lasts without renewal (txkit's default 30 s). */
  sagaLeaseMs?: number;
  /** How long the coordinator counts as alive without renewing its lease (txkit's default 30 s). */
  coordinatorLeaseMs?: number;
  /** @internal Fault injection for crash tests, passed to the coordinator and the saga runner. */
  faultHook?: FaultHook;
}

/**
 * The booking engine over txkit: a {@link TwoPhaseCoordinator} over the three databases (decisions logged in the
 * seats database) and a {@link SagaRunner} (log in the seats database) whose steps guard each participant's
 * local transaction with the barrier.
 *
 * @example
 * const engine = new TxkitBookingEngine({ dbs, instanceId: 'api-1', outbox, preparedOutbox, faults, ... });
 * await engine.migrate();
 * await engine.start();
 */
export class TxkitBookingEngine implements BookingEngine {
  readonly coordinator: TwoPhaseCoordinator;
  readonly #timeline = new BookingTimeline();
  readonly runner: SagaRunner;
  readonly #o: TxkitEngineOptions;
  readonly #book: ReturnType<typeof bookSeatsSaga>;
  readonly #cancel: ReturnType<typeof cancelBookingSaga>;
  readonly #sagas: SagaMonitor;
  readonly #twoPhase: TwoPhaseMonitor;
  #services: BackgroundService[] = [];

  constructor(o: TxkitEngineOptions) {
    this.#o = o;
    const { seats, payments, tickets } = o.dbs;
    this.coordinator = new TwoPhaseCoordinator({
      id: o.instanceId,
      participants: { seats, payments, tickets },
      log: seats,
      prepareTimeoutMs: o.prepareTimeoutMs,
      // Every branch begins with SET LOCAL of both: the booking's and the cancellation's.
      lockTimeoutMs: o.lockTimeoutMs,
      statementTimeoutMs: o.statementTimeoutMs,
      leaseMs: o.coordinatorLeaseMs,
      faults: o.faultHook,
    });
    const limits = { lockTimeoutMs: o.lockTimeoutMs, statementTimeoutMs: o.statementTimeoutMs };
    const sagaOptions = { dbs: o.dbs, outbox: o.outbox, faults: o.faults, limits };
    this.#book = bookSeatsSaga(sagaOptions);
    this.#cancel = cancelBookingSaga(sagaOptions);
    this.runner = new SagaRunner({
      pool: seats,
      id: o.instanceId,
      sagas: [this.#book, this.#cancel],
      leaseMs: o.sagaLeaseMs,
      faults: o.faultHook,
    });
    const onError = o.onError ?? (() => {});
    this.coordinator.on('error', onError);
    this.runner.on('error', onError);
    this.#sagas = new SagaMonitor(this.runner, this.#timeline);
    this.#twoPhase = new TwoPhaseMonitor(this.coordinator, { seats, payments, tickets }, this.#timeline);
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

  async transactions(limit: number): Promise<TransactionsView> {
    const [inDoubt, stuck] = await Promise.all([this.#twoPhase.inDoubt(), this.runner.stuck(limit)]);
    return {
      sagas: this.#sagas.recent(limit),
      twoPhase: this.#twoPhase.recent(limit),
      inDoubt,
      stuck: stuck.map((s) => ({
        id: s.sagaId,
        name: s.name,
        status: 'failed (compensation gave up)',
        startedAt: null,
        updatedAt: s.updatedAt.toISOString(),
        steps: [
          {
            name: s.failedStep ?? '?',
            status: `failed: ${s.reason ?? '?'}`,
            error: s.error?.message ?? null,
          },
          {
            name: `${s.compensation.step ?? '?'} (undo)`,
            status: 'gave up',
            error: s.compensation.error?.message ?? null,
          },
        ],
      })),
    };
  }

  async timeline({ id: bookingId, mode }: { id: string; mode: BookingMode }): Promise<TimelineEvent[]> {
    const here = this.#timeline.get(bookingId);
    // A 2PC booking leaves no log of its phases, only its decision: the booking service falls back to its record.
    if (here.length > 0 || mode !== 'saga') return here;
    // Run by another instance: its saga log is shared, its events are not.
    const histories = await Promise.all([
      this.runner.history({ name: this.#book.name, key: bookingId }),
      this.runner.history({ name: this.#cancel.name, key: `cancel:${bookingId}` }),
    ]);
    return histories.flatMap((history) => (history ? timelineFromSagaLog(history) : []));
  }

  note(bookingId: string, event: Omit<TimelineEvent, 'at'>): void {
    this.#timeline.add(bookingId, event);
  }

  async counts(): Promise<{ inDoubt: number; stuck: number }> {
    return { inDoubt: this.coordinator.inDoubtCount, stuck: this.runner.stuckCount };
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
      coordinator: this.coordinator,
      outbox: this.#o.preparedOutbox,
      faults: this.#o.faults,
      onTransaction: (transactionId: string, bookingId: string) =>
        this.#timeline.link(transactionId, bookingId),
    };
  }
}
