import type { TwoPhaseCoordinator, TwoPhaseTransaction } from 'txkit';
import type { FaultSettings } from '../config.js';
import type { Db } from '../db/statement.js';
import { isLockTimeout } from '../db/wait-limits.js';
import { enqueueSeatChanges, type SeatEventOutbox } from '../events/seat-events.js';
import { confirm, finishCancelling } from './booking-lifecycle.js';
import { type BookingPlan, BookingRejectedError, type BookingResult } from './outcome.js';
import { chargePayment, refundPayment } from './payments-participant.js';
import { releaseSeats, reserveSeats } from './seats-participant.js';
import { issueTickets, voidTickets } from './tickets-participant.js';

/** The participants' names, as the coordinator knows their pools. */
export type Participant = 'seats' | 'payments' | 'tickets';

/**
 * One participant's branch of a 2PC transaction as a {@link Db}, so the participants' code runs unchanged in
 * either mode. Accepts both `query(text, values)` and `query({ text, values })` (txkit's outbox uses the latter).
 */
export function branch(tx: TwoPhaseTransaction, participant: Participant): Db {
  return {
    query: (text: string | { text: string; values?: unknown[] }, values?: unknown[]) =>
      typeof text === 'string'
        ? tx.query(participant, text, values)
        : tx.query(participant, text.text, text.values),
  } as Db;
}

export interface TwoPhaseBookingOptions {
  /** The coordinator, or a wrapper of its `transaction` (the booking waterfall's timing). */
  coordinator: Pick<TwoPhaseCoordinator, 'transaction'>;
  /** Must not NOTIFY: PostgreSQL refuses PREPARE TRANSACTION after NOTIFY. */
  outbox: SeatEventOutbox;
  faults: FaultSettings;
  /** Called with each transaction's id, its booking and what it does (for the booking's timeline). */
  onTransaction?: (transactionId: string, bookingId: string, run: 'booking' | 'cancellation') => void;
}

/**
 * Books in one two-phase commit over the three databases: seats sold, money taken, tickets issued and the
 * booking confirmed all become visible together or not at all. A business refusal anywhere rolls back every
 * branch; nothing needs undoing. Every branch's lock waits and statements are bounded: by the pools' connections
 * (`openDatabases`), or by the coordinator's `lockTimeoutMs` / `statementTimeoutMs` set as each branch begins.
 *
 * @example
 * const result = await bookByTwoPhase(options, plan);
 */
export async function bookByTwoPhase(o: TwoPhaseBookingOptions, plan: BookingPlan): Promise<BookingResult> {
  try {
    const { codes: ticketCodes, confirmedAt } = await o.coordinator.transaction(async (tx) => {
      o.onTransaction?.(tx.id, plan.bookingId, 'booking');
      const seats = branch(tx, 'seats');
      const changes = await reserveSeats(seats, plan);
      await enqueueSeatChanges(o.outbox, seats, changes, 'booked');
      await chargePayment(branch(tx, 'payments'), plan, o.faults);
      const codes = await issueTickets(branch(tx, 'tickets'), plan, o.faults);
      // The booking's confirmation is part of the same atomic change: a crash cannot leave it pending.
      return { codes, confirmedAt: await confirm(seats, plan.bookingId, codes) };
    });
    return { status: 'confirmed', ticketCodes, confirmedAt };
  } catch (error) {
    if (error instanceof BookingRejectedError) {
      return { status: 'rejected', reason: error.reason, message: error.message };
    }
    // A lock held past the lock timeout (a leftover prepared transaction, a long booking) failed the callback,
    // and every failure but an InDoubtError rolled every branch back (txkit's contract): the outcome is known.
    if (isLockTimeout(error)) {
      return {
        status: 'rejected',
        reason: 'aborted',
        message: 'another transaction held a lock this booking needed for too long; nothing was booked',
      };
    }
    throw error;
  }
}

/** Cancels in one two-phase commit: seats freed, payment refunded, tickets voided, booking cancelled. */
export async function cancelByTwoPhase(o: TwoPhaseBookingOptions, plan: BookingPlan): Promise<void> {
  await o.coordinator.transaction(async (tx) => {
    o.onTransaction?.(tx.id, plan.bookingId, 'cancellation');
    const seats = branch(tx, 'seats');
    const changes = await releaseSeats(seats, plan.bookingId);
    await enqueueSeatChanges(o.outbox, seats, changes, 'cancelled');
    await refundPayment(branch(tx, 'payments'), plan.bookingId);
    await voidTickets(branch(tx, 'tickets'), plan.bookingId);
    await finishCancelling(seats, plan.bookingId);
  });
}
