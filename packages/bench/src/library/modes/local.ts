import { bookingSql } from '../bench-schema.js';
import type { BookingModeFactory } from '../booking-mode.js';

/**
 * Baseline: all three writes in one local transaction in one database — the limit for this work, since a
 * distributed protocol can only add to it.
 */
export const localMode: BookingModeFactory = (dbs) => ({
  name: 'local',
  description: 'all three writes in one transaction in one database (the limit)',
  singleDatabase: true,
  async book({ bookingId, seatId, customerId, amountCents, declinePayment }) {
    const client = await dbs.seats.connect();
    try {
      await client.query('BEGIN');
      const seat = await client.query<{ booking_id: string | null }>(bookingSql.lockSeat, [seatId]);
      if (seat.rows[0]?.booking_id !== null) {
        await client.query('ROLLBACK');
        return 'rejected';
      }
      await client.query(bookingSql.takeSeat, [seatId, bookingId]);
      if (declinePayment) {
        await client.query('ROLLBACK');
        return 'declined';
      }
      await client.query(bookingSql.insertPayment, [bookingId, customerId, amountCents]);
      await client.query(bookingSql.insertTicket, [bookingId, seatId, bookingId]);
      await client.query('COMMIT');
      return 'confirmed';
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  },
});
