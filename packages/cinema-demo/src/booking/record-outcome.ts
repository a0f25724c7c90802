import type pg from 'pg';
import * as seatsSql from '../db/seats-sql.js';
import { rows } from '../db/statement.js';
import { boundedTransaction, type WaitLimits } from '../db/wait-limits.js';
import type { BookingEngine, BookingMode, EngineCallOptions } from './booking-engine.js';
import type { BookingRecord } from './booking-record.js';
import { type BookingResult, planOf, type RejectionReason } from './outcome.js';

/** Where a booking's outcome is recorded, and how long recording it may wait for the booking's row lock. */
export interface OutcomeRecorder {
  seats: pg.Pool;
  limits: WaitLimits;
}

/**
 * Records a rejection and its reason on the booking, under the lock timeout (a lock wait fails with 55P03: the
 * row is held by a transaction still to be resolved; try again later). 2PC: only a booking still `pending`
 * changes — recovery may yet commit its confirmation, which must win. Saga: also a booking that its saga's
 * compensation marked rejected without knowing why. Returns whether the booking changed.
 *
 * @example
 * await recordRejection(recorder, booking, { reason: 'aborted', message: 'nothing was booked' });
 */
export async function recordRejection(
  recorder: OutcomeRecorder,
  booking: { id: string; mode: BookingMode },
  rejection: { reason: RejectionReason; message: string },
): Promise<boolean> {
  const record = booking.mode === 'saga' ? seatsSql.recordSagaRejected : seatsSql.recordRejected;
  const changed = await boundedTransaction(recorder.seats, recorder.limits, (client) =>
    rows(client, record(booking.id, rejection.reason, rejection.message)),
  );
  return changed.length > 0;
}

/**
 * Brings a saga booking whose outcome is not recorded to the outcome of its saga: one left `pending` by a
 * process that died (the saga is resumed by recovery, or started now if it never was), or one that the saga's
 * compensation marked `rejected` with no reason (the compensation does not know why the saga failed; the saga
 * log does). The booking id is the saga's key, so this never books twice. A confirmation is recorded by the
 * saga itself; a rejection gets its reason here.
 *
 * @example
 * const result = await settleSagaBooking(recorder, engine, booking, { waitMs: 10_000 });
 */
export async function settleSagaBooking(
  recorder: OutcomeRecorder,
  engine: BookingEngine,
  booking: BookingRecord,
  options: EngineCallOptions = {},
): Promise<BookingResult> {
  const result = await engine.bookBySaga(planOf(booking), options);
  if (result.status === 'rejected') await recordRejection(recorder, booking, result);
  return result;
}

/**
 * A saga booking rejected with no reason yet: its compensation marked it, the reason is still to be recorded
 * (by the attempt that ran the saga, or — if that process died — by {@link settleSagaBooking}).
 */
export function isUnexplainedRejection(booking: Pick<BookingRecord, 'mode' | 'status' | 'reason'>): boolean {
  return booking.mode === 'saga' && booking.status === 'rejected' && booking.reason === null;
}
