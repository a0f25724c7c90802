import { withTransaction } from 'txkit';
import { bookingSql } from '../bench-schema.js';
import type { BookingModeFactory, BookingResult } from '../booking-mode.js';

/**
 * Baseline: the saga's three steps as plain sequential local transactions, with no log, no barrier and no
 * recovery — seat (seats DB), payment (payments DB), ticket (tickets DB). What a saga costs before it is made
 * durable; `saga` shows what txkit's log, leases and barrier add. A crash between steps would leave a seat
 * taken without a payment: this mode is only correct when nothing fails.
 */
export const rawSagaMode: BookingModeFactory = (dbs) => ({
  name: 'raw-saga',
  description: 'the saga steps as three sequential local transactions (no log, no barrier)',
  compensates: true,
  async book({ bookingId, seatId, customerId, amountCents, declinePayment }): Promise<BookingResult> {
    const taken = await withTransaction(dbs.seats, async (client) => {
      const seat = await client.query<{ booking_id: string | null }>(bookingSql.lockSeat, [seatId]);
      if (seat.rows[0]?.booking_id !== null) return false;
      await client.query(bookingSql.takeSeat, [seatId, bookingId]);
      return true;
    });
    if (!taken) return 'rejected';
    if (declinePayment) {
      // The seat is already committed: release it (the compensation), but only if this booking still holds it.
      await dbs.seats.query(bookingSql.releaseSeat, [seatId, bookingId]);
      return 'declined';
    }
    await withTransaction(dbs.payments, (client) =>
      client.query(bookingSql.insertPayment, [bookingId, customerId, amountCents]),
    );
    await withTransaction(dbs.tickets, (client) =>
      client.query(bookingSql.insertTicket, [bookingId, seatId, bookingId]),
    );
    return 'confirmed';
  },
  logStatementsPerBooking: () => 0,
});
