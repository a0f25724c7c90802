import { randomBytes } from 'node:crypto';
import type { FaultSettings } from '../config.js';
import { type Db, rows } from '../db/statement.js';
import * as sql from '../db/tickets-sql.js';
import { type BookingPlan, BookingRejectedError } from './outcome.js';

function ticketCode(): string {
  return randomBytes(5).toString('hex').toUpperCase();
}

/** Issues one ticket per seat inside the caller's local transaction; the failure rate simulates an outage. */
export async function issueTickets(db: Db, plan: BookingPlan, faults: FaultSettings): Promise<string[]> {
  if (faults.ticketFailureRate > 0 && faults.random() < faults.ticketFailureRate) {
    throw new BookingRejectedError('ticket-failed', 'the ticket service could not issue the tickets');
  }
  const tickets = plan.seatIds.map((seatId) => ({ seatId, code: ticketCode() }));
  await rows(db, sql.insertTickets(plan.bookingId, plan.screeningId, tickets));
  return tickets.map((t) => t.code);
}

/** Voids the booking's tickets; voiding twice does nothing. */
export async function voidTickets(db: Db, bookingId: string): Promise<void> {
  await rows(db, sql.voidTickets(bookingId));
}
