import type { Statement } from './statement.js';

// All SQL of the tickets database.

export interface NewTicket {
  seatId: number;
  code: string;
}

export const insertTickets = (bookingId: string, screeningId: number, tickets: NewTicket[]): Statement => ({
  text: `INSERT INTO cinema.tickets (booking_id, screening_id, seat_id, code, status)
         SELECT $1, $2, t.seat_id, t.code, 'valid' FROM unnest($3::int[], $4::text[]) AS t(seat_id, code)`,
  values: [bookingId, screeningId, tickets.map((t) => t.seatId), tickets.map((t) => t.code)],
});

export const voidTickets = (bookingId: string): Statement => ({
  text: `UPDATE cinema.tickets SET status = 'void', voided_at = now()
          WHERE booking_id = $1 AND status = 'valid' RETURNING code`,
  values: [bookingId],
});

export const ticketsOfBooking = (bookingId: string): Statement => ({
  text: `SELECT seat_id AS "seatId", code, status FROM cinema.tickets WHERE booking_id = $1 ORDER BY seat_id`,
  values: [bookingId],
});
