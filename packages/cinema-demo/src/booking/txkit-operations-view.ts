import type { SagaRunner, TwoPhaseCoordinator } from 'txkit';
import type { Databases } from '../db/databases.js';
import type { BookingMode } from './booking-executor.js';
import { BookingTimeline, type TimelineEvent, timelineFromSagaLog } from './booking-timeline.js';
import type { OperationsView, SagaSummary, TransactionsView } from './operations-view.js';
import { bookingOfKey, SagaMonitor } from './saga-monitor.js';
import { TwoPhaseMonitor } from './two-phase-monitor.js';

/**
 * The operations view over txkit: recent sagas and 2PC transactions from the runner's and the coordinator's
 * events, in-doubt branches from the participants, stuck sagas and timelines from the saga log.
 *
 * @example
 * const view = new TxkitOperationsView({ coordinator, runner, dbs, sagaNames: { book: 'book-seats', cancel: 'cancel-booking' } });
 * const { inDoubt } = await view.transactions(50);
 */
export class TxkitOperationsView implements OperationsView {
  /** Links a 2PC transaction to its booking, for the booking's timeline. */
  readonly timelines = new BookingTimeline();
  readonly #runner: SagaRunner;
  readonly #coordinator: TwoPhaseCoordinator;
  readonly #sagaNames: { book: string; cancel: string };
  readonly #dbs: Databases;
  readonly #sagas: SagaMonitor;
  readonly #twoPhase: TwoPhaseMonitor;

  constructor(o: {
    coordinator: TwoPhaseCoordinator;
    runner: SagaRunner;
    dbs: Databases;
    sagaNames: { book: string; cancel: string };
  }) {
    this.#runner = o.runner;
    this.#coordinator = o.coordinator;
    this.#sagaNames = o.sagaNames;
    this.#dbs = o.dbs;
    const { seats, payments, tickets } = o.dbs;
    this.#sagas = new SagaMonitor(o.runner, this.timelines);
    this.#twoPhase = new TwoPhaseMonitor(o.coordinator, { seats, payments, tickets }, this.timelines);
  }

  async transactions(limit: number): Promise<TransactionsView> {
    const [inDoubt, stuck] = await Promise.all([this.#twoPhase.inDoubt(), this.#runner.stuck(limit)]);
    const view: TransactionsView = {
      sagas: this.#sagas.recent(limit),
      twoPhase: this.#twoPhase.recent(limit),
      inDoubt,
      stuck: stuck.map((s) => ({
        id: s.sagaId,
        name: s.name,
        ...(bookingOfKey(s.key) ?? {}),
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
    await this.#withCustomers([...view.sagas, ...view.stuck]);
    return view;
  }

  /**
   * Adds each booking saga's customer: two reads for the whole page (the bookings' customers, then their names),
   * on the operator's request only, never on a booking's path.
   */
  async #withCustomers(sagas: SagaSummary[]): Promise<void> {
    const ids = [...new Set(sagas.flatMap((s) => (s.bookingId ? [s.bookingId] : [])))];
    if (ids.length === 0) return;
    const { rows: bookings } = await this.#dbs.seats.query<{ id: string; customerId: number }>(
      'SELECT id, customer_id AS "customerId" FROM cinema.bookings WHERE id = ANY($1::uuid[])',
      [ids],
    );
    const customerIds = [...new Set(bookings.map((b) => b.customerId))];
    const { rows: names } = await this.#dbs.payments.query<{ id: number; name: string }>(
      'SELECT id, name FROM cinema.customers WHERE id = ANY($1::int[])',
      [customerIds],
    );
    const nameOf = new Map(names.map((c) => [c.id, c.name]));
    const customerOf = new Map(bookings.map((b) => [b.id, b.customerId]));
    for (const saga of sagas) {
      const id = saga.bookingId ? customerOf.get(saga.bookingId) : undefined;
      saga.customer = id === undefined ? null : { id, name: nameOf.get(id) ?? `#${id}` };
    }
  }

  async timeline({ id: bookingId, mode }: { id: string; mode: BookingMode }): Promise<TimelineEvent[]> {
    const here = this.timelines.get(bookingId);
    // A 2PC booking leaves no log of its phases, only its decision: the booking service falls back to its record.
    if (here.length > 0 || mode !== 'saga') return here;
    // Run by another instance: its saga log is shared, its events are not.
    const histories = await Promise.all([
      this.#runner.history({ name: this.#sagaNames.book, key: bookingId }),
      this.#runner.history({ name: this.#sagaNames.cancel, key: `cancel:${bookingId}` }),
    ]);
    return histories.flatMap((history) => (history ? timelineFromSagaLog(history) : []));
  }

  note(bookingId: string, event: Omit<TimelineEvent, 'at'>): void {
    this.timelines.add(bookingId, event);
  }

  async counts(): Promise<{ inDoubt: number; stuck: number }> {
    return { inDoubt: this.#coordinator.inDoubtCount, stuck: this.#runner.stuckCount };
  }
}
