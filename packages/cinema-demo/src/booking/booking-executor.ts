import type { BookingPlan, BookingResult } from './outcome.js';

/** Booking modes: a saga of three local steps, or one two-phase commit over the three databases. */
export type BookingMode = 'saga' | '2pc';

/** Bounds of one executor call. */
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
 * Executes bookings and cancellations over txkit: each method runs one whole booking or cancellation in one
 * mode and answers with its real outcome. Business refusals come back as `rejected`; anything else is thrown.
 * Every status change it makes goes through `booking-lifecycle.ts`, in the same commit as the work it records:
 * a confirmation (2PC: the one atomic commit; saga: the confirming step), and a saga's rejection (the
 * compensation that frees the seats). A rejection it did not record (`recorded: false`) is left to the caller.
 *
 * @example
 * const result = await executor.bookBySaga(planOf(booking));
 */
export interface BookingExecutor {
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
}
