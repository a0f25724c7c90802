import type pg from 'pg';
import { currentWindow, type FixedWindowLimit } from '../db/rate-limit.js';
import * as seatsSql from '../db/seats-sql.js';
import { type Db, rows } from '../db/statement.js';
import { boundedTransaction, type WaitLimits } from '../db/wait-limits.js';
import { DomainError } from '../domain-error.js';
import type { BookingMode } from './booking-executor.js';
import type { RejectionReason } from './outcome.js';

// The one owner of a booking's status: every change of `cinema.bookings.status` goes through this module, so that
// the state machine below is the whole story. Each transition is a guarded UPDATE ("only from this status"), so a
// late or repeated writer cannot undo a newer state, and each takes the `Db` it runs on — a pool, a saga step's
// client or a 2PC branch — so that a transition commits together with the work it records.
//
//   (admit) ─> pending ─┬─> confirmed ─> cancelling ─> cancelled
//                       └─> rejected (with its reason)
//
// A saga booking rejected without a reason (written by compensations before this module existed) still gets its
// reason recorded by `reject`.

/** Where a rejection outside any transaction of the booking's own is recorded, and how long it may wait. */
export interface OutcomeRecorder {
  seats: pg.Pool;
  limits: WaitLimits;
}

/** What became of a booking request at its admission. */
export type Admission =
  /** A new `pending` booking claims the key, priced by the database. */
  | { kind: 'claimed'; amountCents: number; createdAt: Date }
  /** The key was used before: answer that booking. */
  | { kind: 'existing'; bookingId: string }
  /** Another request claimed the key at the same moment: look it up and answer that booking. */
  | { kind: 'raced' };

/**
 * Admits a booking request in one statement (see `seatsSql.admitBooking`): a new `pending` booking claiming the
 * customer's idempotency key, or the booking the key made before; refused with a {@link DomainError} when the
 * screening does not exist or has started, a seat is not of its room, or the customer is past `limit`.
 *
 * @example
 * const admission = await admit(dbs.seats, request, { key: `bookings:${customerId}`, max: 10, windowMs: 60_000, what: 'bookings per minute' });
 */
export async function admit(
  db: Db,
  booking: Omit<seatsSql.NewBooking, 'amountCents'>,
  limit: FixedWindowLimit & { key: string },
): Promise<Admission> {
  const window = currentWindow(limit);
  const [row] = await rows<{
    existingId: string | null;
    claimedAmountCents: number | null;
    createdAt: Date | null;
    screeningFound: boolean;
    started: boolean;
    startsAt: Date | null;
    foreignSeatIds: number[] | null;
    hits: number | null;
  }>(db, seatsSql.admitBooking(booking, { key: limit.key, windowStart: window.start, max: limit.max }));
  if (!row) throw new Error('the admission statement returned no row');
  if (row.existingId) return { kind: 'existing', bookingId: row.existingId };
  const screening = booking.screeningId;
  if (!row.screeningFound)
    throw new DomainError('screening-not-found', `screening ${screening} does not exist`);
  if (row.started) {
    throw new DomainError(
      'screening-started',
      `screening ${screening} started at ${row.startsAt!.toISOString()}: booking is closed`,
    );
  }
  if (row.foreignSeatIds && row.foreignSeatIds.length > 0) {
    throw new DomainError(
      'seat-not-in-room',
      `seat(s) ${row.foreignSeatIds.join(', ')} are not seats of screening ${screening}'s room`,
    );
  }
  if ((row.hits ?? 0) > limit.max) throw window.refusal();
  return row.claimedAmountCents === null
    ? { kind: 'raced' }
    : { kind: 'claimed', amountCents: row.claimedAmountCents, createdAt: row.createdAt! };
}

/**
 * pending → confirmed, with the ticket codes: in the booking's last write (the saga's confirming step, the 2PC
 * transaction), so that a confirmation and its effects commit together. Returns the booking's new `updatedAt`
 * (ISO), so that the answer needs no read of the row; undefined when it was not pending (a re-run).
 *
 * @example
 * const confirmedAt = await confirm(ctx.client, plan.bookingId, codes);
 */
export async function confirm(db: Db, bookingId: string, ticketCodes: string[]): Promise<string | undefined> {
  const [row] = await rows<{ updatedAt: Date }>(db, seatsSql.recordConfirmed(bookingId, ticketCodes));
  return row?.updatedAt.toISOString();
}

/**
 * pending → rejected with its reason, on `db` (in a saga compensation's transaction, which also frees the seats).
 * 2PC: only a booking still `pending` changes — recovery may yet commit its confirmation, which must win. Saga:
 * also a booking rejected without a reason. Returns whether the booking changed.
 *
 * @example
 * await reject(ctx.client, { id, mode: 'saga' }, { reason: 'payment-declined', message: 'declined' });
 */
export async function reject(
  db: Db,
  booking: { id: string; mode: BookingMode },
  rejection: { reason: RejectionReason; message: string },
): Promise<boolean> {
  const record = booking.mode === 'saga' ? seatsSql.recordSagaRejected : seatsSql.recordRejected;
  return (await rows(db, record(booking.id, rejection.reason, rejection.message))).length > 0;
}

/**
 * {@link reject} in a transaction of its own whose lock wait is bounded (a wait fails with 55P03: the row is held
 * by a transaction still to be resolved; try again later).
 *
 * @example
 * await recordRejection(recorder, booking, { reason: 'aborted', message: 'nothing was booked' });
 */
export function recordRejection(
  recorder: OutcomeRecorder,
  booking: { id: string; mode: BookingMode },
  rejection: { reason: RejectionReason; message: string },
): Promise<boolean> {
  return boundedTransaction(recorder.seats, recorder.limits, (client) => reject(client, booking, rejection));
}

/**
 * confirmed → cancelling: the claim of the one cancellation that runs per booking. False when the booking was
 * not confirmed (another cancellation claimed it, or it was never confirmed).
 *
 * @example
 * const mine = await startCancelling(dbs.seats, id);
 */
export async function startCancelling(db: Db, bookingId: string): Promise<boolean> {
  return (await rows(db, seatsSql.transitionBooking(bookingId, 'confirmed', 'cancelling'))).length > 0;
}

/**
 * cancelling → cancelled, in the cancellation's last write.
 *
 * @example
 * await finishCancelling(ctx.client, plan.bookingId);
 */
export async function finishCancelling(db: Db, bookingId: string): Promise<void> {
  await rows(db, seatsSql.markCancelled(bookingId));
}
