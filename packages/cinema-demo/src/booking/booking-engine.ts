import type { TimelineEvent } from './booking-timeline.js';
import type { BookingPlan, BookingResult } from './outcome.js';

/** Booking modes: a saga of three local steps, or one two-phase commit over the three databases. */
export type BookingMode = 'saga' | '2pc';

/** A recent saga as the operations view lists it. */
export interface SagaSummary {
  id: string;
  name: string;
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

/** Bounds of one engine call. */
export interface EngineCallOptions {
  /**
   * Saga mode: how long to wait for the outcome of the booking's saga when another runner is driving it (a
   * dead instance's saga that recovery resumed); txkit's default is 60 s. The stale-booking sweep sets it to
   * its per-booking deadline, so that a call it gave up on ends by itself too.
   */
  waitMs?: number;
  /**
   * Cancellation by saga: when the booking's cancellation saga has given up (out of retries), run it again
   * under a fresh key instead of answering its old outcome. The stale-booking sweep sets it: that is how a
   * cancellation left `cancelling` is finished once what blocked it is gone.
   */
  rerunGivenUp?: boolean;
}

/**
 * The booking service's view of txkit: each method runs one whole booking or cancellation in one mode and
 * answers with its real outcome. Business refusals come back as `rejected`; anything else is thrown. A
 * `confirmed` booking is already recorded as such — in the same commit as its last write (2PC: the one atomic
 * commit; saga: the confirming step) — while a rejection is left to the caller, who knows its reason.
 */
export interface BookingEngine {
  /**
   * Books by saga, keyed by the booking id: a second call for the same booking runs nothing and answers the
   * first saga's outcome (waiting for it while it runs).
   */
  bookBySaga(plan: BookingPlan, options?: EngineCallOptions): Promise<BookingResult>;
  bookByTwoPhase(plan: BookingPlan): Promise<BookingResult>;
  /**
   * Releases the seats, refunds and voids the tickets of a confirmed booking, in the booking's mode. Idempotent:
   * a second call (a concurrent cancel, a retry) joins the saga of the first or finds nothing left to undo.
   */
  cancel(mode: BookingMode, plan: BookingPlan, options?: EngineCallOptions): Promise<void>;
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
  /** Starts recovery (in-doubt 2PC, unfinished sagas) and the outbox relay. */
  start(): Promise<void>;
  stop(): Promise<void>;
}
