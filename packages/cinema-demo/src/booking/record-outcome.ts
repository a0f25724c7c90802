import type { BookingExecutor, EngineCallOptions } from './booking-executor.js';
import { type OutcomeRecorder, recordRejection } from './booking-lifecycle.js';
import type { BookingRecord } from './booking-record.js';
import { type BookingResult, planOf } from './outcome.js';

/**
 * Records a booking's result when its executor did not: a rejection it left to the caller (2PC, or a saga that
 * failed before it sold the seats). A confirmation is always recorded by the executor, in its last write.
 *
 * @example
 * await recordResult(recorder, booking, await executor.bookByTwoPhase(plan));
 */
export async function recordResult(
  recorder: OutcomeRecorder,
  booking: Pick<BookingRecord, 'id' | 'mode'>,
  result: BookingResult,
): Promise<void> {
  if (result.status === 'rejected' && !result.recorded) await recordRejection(recorder, booking, result);
}

/**
 * Brings a saga booking whose outcome is not recorded to the outcome of its saga: one left `pending` by a
 * process that died (the saga is resumed by recovery, or started now if it never was), or one rejected without a
 * reason (by a compensation of an older version). The booking id is the saga's key, so this never books twice.
 *
 * @example
 * const result = await settleSagaBooking(recorder, executor, booking, { waitMs: 10_000 });
 */
export async function settleSagaBooking(
  recorder: OutcomeRecorder,
  executor: BookingExecutor,
  booking: BookingRecord,
  options: EngineCallOptions = {},
): Promise<BookingResult> {
  const result = await executor.bookBySaga(planOf(booking), options);
  // The saga's compensation recorded its rejection with the reason — unless it ran before it did so (an older
  // version, a booking already rejected without one): then the reason is recorded here.
  if (result.status === 'rejected' && (!result.recorded || booking.status === 'rejected')) {
    await recordRejection(recorder, booking, result);
  }
  return result;
}

/**
 * A saga booking rejected with no reason yet: by a compensation of an older version, which did not record it;
 * {@link settleSagaBooking} records it from the saga log.
 */
export function isUnexplainedRejection(booking: Pick<BookingRecord, 'mode' | 'status' | 'reason'>): boolean {
  return booking.mode === 'saga' && booking.status === 'rejected' && booking.reason === null;
}
