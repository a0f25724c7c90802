import { TwoPhaseCoordinator, type TwoPhaseCoordinatorOptions } from 'txkit';
import { bookingSql } from '../bench-schema.js';
import type { BenchDatabases, BookingMode, BookingModeFactory, BookingResult } from '../booking-mode.js';

/** Thrown inside the transaction to roll it back when the seat is already taken. */
class SeatTaken extends Error {}
/** Thrown inside the transaction to roll it back when the payment is declined. */
class PaymentDeclined extends Error {}

/**
 * The booking through txkit's {@link TwoPhaseCoordinator}. `decisionInLogParticipant` picks where the commit
 * decision goes: inside the seats branch, committed last (txkit's default when the log is a participant), or
 * a separate insert after preparing all three (the same protocol as `raw-2pc`).
 */
function txkitTwoPhase(
  name: string,
  description: string,
  options: Pick<TwoPhaseCoordinatorOptions, 'decisionInLogParticipant' | 'preparedStatements'>,
): BookingModeFactory {
  return (dbs: BenchDatabases): BookingMode => {
    const coordinator = new TwoPhaseCoordinator({
      id: `bench-${name}`,
      participants: { seats: dbs.seats, payments: dbs.payments, tickets: dbs.tickets },
      log: dbs.seats,
      ...options,
      prepareTimeoutMs: 10_000,
    });
    return {
      name,
      description,
      async setup() {
        await coordinator.migrate();
      },
      async book({ bookingId, seatId, customerId, amountCents, declinePayment }): Promise<BookingResult> {
        try {
          return await coordinator.transaction(async (tx) => {
            const seat = await tx.query<{ booking_id: string | null }>('seats', bookingSql.lockSeat, [
              seatId,
            ]);
            if (seat.rows[0]?.booking_id !== null) throw new SeatTaken();
            await tx.query('seats', bookingSql.takeSeat, [seatId, bookingId]);
            if (declinePayment) throw new PaymentDeclined();
            await Promise.all([
              tx.query('payments', bookingSql.insertPayment, [bookingId, customerId, amountCents]),
              tx.query('tickets', bookingSql.insertTicket, [bookingId, seatId, bookingId]),
            ]);
            return 'confirmed' as const;
          });
        } catch (error) {
          if (error instanceof SeatTaken) return 'rejected';
          if (error instanceof PaymentDeclined) return 'declined';
          throw error;
        }
      },
      logStatementsPerBooking: () => 1,
      async recover() {
        // Undecided branches are aborted only after the prepare timeout: pass until none is left in doubt.
        for (const started = Date.now(); Date.now() - started < 120_000; ) {
          const report = await coordinator.recover({ allCoordinators: true });
          if (report.waiting.length === 0 && report.failed.length === 0 && report.unreachable.length === 0)
            return;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        throw new Error(`${name}: prepared transactions still in doubt after 120 s of recovery`);
      },
      async reset() {
        await dbs.seats.query('TRUNCATE txkit.two_phase_decisions');
      },
    };
  };
}

/** txkit 2PC as configured by default: the decision rides in the seats branch (no PREPARE there). */
export const twoPhaseMode = txkitTwoPhase(
  '2pc',
  'txkit TwoPhaseCoordinator: prepare payments+tickets, decision inside the seats transaction, commit prepared',
  {},
);

/** txkit 2PC with a separate decision insert: the same protocol as `raw-2pc`, to measure the library's cost. */
export const twoPhaseSeparateLogMode = txkitTwoPhase(
  '2pc-separate',
  'txkit TwoPhaseCoordinator: prepare all three, separate decision insert, commit prepared',
  { decisionInLogParticipant: false },
);

/** `2pc` with the booking's statements as named prepared statements (`preparedStatements: true`). */
export const twoPhasePreparedMode = txkitTwoPhase(
  '2pc-prepared',
  'txkit TwoPhaseCoordinator as 2pc, with preparedStatements: the booking statements parsed once per connection',
  { preparedStatements: true },
);
