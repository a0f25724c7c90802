import type { BookingMode } from './booking-executor.js';
import type { TimelineEvent } from './booking-timeline.js';

/** A recent saga as the operations view lists it. */
export interface SagaSummary {
  id: string;
  name: string;
  /** What the saga does for its booking (from its key), when it is one of the booking sagas. */
  type?: 'booking' | 'cancellation' | null;
  bookingId?: string | null;
  /** The booking's customer. */
  customer?: { id: number; name: string } | null;
  status: string;
  startedAt: string | null;
  updatedAt: string | null;
  steps: { name: string; status: string; error?: string | null }[];
}

/** A recent 2PC transaction as the operations view lists it. */
export interface TwoPhaseSummary {
  id: string;
  phase: string;
  participants: string[];
  at: string | null;
}

/** What the operations view shows. */
export interface TransactionsView {
  sagas: SagaSummary[];
  twoPhase: TwoPhaseSummary[];
  /** Prepared transactions without a resolution yet (as found in pg_prepared_xacts). */
  inDoubt: { participant: string; gid: string; preparedAt: string }[];
  /** Sagas that did not finish or gave up compensating. */
  stuck: SagaSummary[];
}

/**
 * What operators and customers see of the transactions: recent sagas and 2PC transactions, what is in doubt or
 * stuck, and each booking's timeline. Reads only; executing is the {@link BookingExecutor}'s.
 *
 * @example
 * res.json(await view.transactions(50));
 */
export interface OperationsView {
  transactions(limit: number): Promise<TransactionsView>;
  /**
   * What happened to one booking (saga steps, 2PC phases), oldest first: live from this process when it ran the
   * booking, otherwise what the saga log recorded (another instance behind the load balancer ran it).
   */
  timeline(booking: { id: string; mode: BookingMode }): Promise<TimelineEvent[]>;
  /** Adds an entry of the booking service's own (request received, outcome) to a booking's timeline. */
  note(bookingId: string, event: Omit<TimelineEvent, 'at'>): void;
  /** In-doubt and stuck counts for the metrics. */
  counts(): Promise<{ inDoubt: number; stuck: number }>;
}
