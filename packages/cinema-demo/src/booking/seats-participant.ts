import * as sql from '../db/seats-sql.js';
import { type Db, rows } from '../db/statement.js';
import { type BookingPlan, BookingRejectedError, type SeatChange } from './outcome.js';

const LOCK_NOT_AVAILABLE = '55P03';
const UNIQUE_VIOLATION = '23505';

/**
 * Sells the plan's seats inside the caller's local transaction (a saga step's or a 2PC participant's), whose
 * lock timeout (see `wait-limits.ts`) bounds the wait for another booking's seat locks — a 2PC holds them
 * through both phases. Contention is settled by row locks on just these seats; a seat that is not free, or
 * still locked when the timeout runs out, rejects the booking.
 */
export async function reserveSeats(db: Db, plan: BookingPlan): Promise<SeatChange[]> {
  try {
    // Lock, sell and record in one round trip (see seatsSql.reserveSeats): all of them or none.
    const locked = await rows<{ seatId: number; status: string; version: number | null }>(
      db,
      sql.reserveSeats(plan.screeningId, plan.seatIds, plan.bookingId),
    );
    const taken = locked.filter((s) => s.status !== 'free').map((s) => s.seatId);
    if (taken.length > 0 || locked.length !== plan.seatIds.length) {
      throw new BookingRejectedError('seat-taken', `seat(s) ${taken.join(', ')} already sold`);
    }
    // Every free seat was sold with a new version; a free one without is a statement that wrote nothing, and a
    // booking must never go on as if it held it (a plain error: the transaction rolls back, nothing is confirmed).
    return locked.map(({ seatId, version }) => {
      if (version === null) throw new Error(`seat ${seatId} was free but the reservation did not sell it`);
      return { screeningId: plan.screeningId, seatId, status: 'sold', version };
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === LOCK_NOT_AVAILABLE) {
      throw new BookingRejectedError('seat-locked', 'another booking holds these seats; try again');
    }
    // Only reachable if the locking above were wrong: the unique index is the last line of defence.
    if (code === UNIQUE_VIOLATION) throw new BookingRejectedError('seat-taken', 'seat already sold');
    throw error;
  }
}

/** Frees every seat the booking holds and closes its seat rows (compensation and cancellation). */
export async function releaseSeats(db: Db, bookingId: string): Promise<SeatChange[]> {
  const freed = await rows<{ screeningId: number; seatId: number; version: number }>(
    db,
    sql.freeSeatsOfBooking(bookingId),
  );
  await rows(db, sql.releaseBookingSeats(bookingId));
  return freed.map((s) => ({ ...s, status: 'free' }));
}
