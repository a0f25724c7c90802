import type pg from 'pg';
import { bookingSql } from '../bench-schema.js';
import type { BookingModeFactory, BookingResult } from '../booking-mode.js';

const decisionsDdl = `CREATE TABLE IF NOT EXISTS raw_two_phase_decisions (
  transaction_id uuid PRIMARY KEY, outcome text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`;

/**
 * Baseline: the same two-phase protocol written by hand in SQL, without a library — BEGIN on each database,
 * the booking's statements, PREPARE TRANSACTION on all three in parallel, the commit decision inserted in the
 * seats database, COMMIT PREPARED on all three in parallel. It has no recovery, timeouts or events: it
 * measures what the protocol itself costs, so that `2pc` / `2pc-separate` show what the library adds.
 */
export const rawTwoPhaseMode: BookingModeFactory = (dbs) => ({
  name: 'raw-2pc',
  description: 'hand-written 2PC SQL: prepare all three, decision insert, commit prepared (no library)',
  async setup() {
    await dbs.seats.query(decisionsDdl);
  },
  async book({ bookingId, seatId, customerId, amountCents, declinePayment }): Promise<BookingResult> {
    const names = ['seats', 'payments', 'tickets'] as const;
    const clients = await Promise.all(names.map((n) => dbs[n].connect()));
    const [seats, payments, tickets] = clients as [pg.PoolClient, pg.PoolClient, pg.PoolClient];
    // bookingId is a uuid made by the load runner: safe to splice into PREPARE, which takes no parameters.
    const gids = names.map((n) => `raw:${bookingId}:${n}`);
    let prepared = false;
    let broken: Error | undefined;
    try {
      await seats.query('BEGIN');
      const seat = await seats.query<{ booking_id: string | null }>(bookingSql.lockSeat, [seatId]);
      if (seat.rows[0]?.booking_id !== null) {
        await seats.query('ROLLBACK');
        return 'rejected';
      }
      await seats.query(bookingSql.takeSeat, [seatId, bookingId]);
      if (declinePayment) {
        // The payment branch refuses before anything is prepared: roll the seat back, nothing became visible.
        await seats.query('ROLLBACK');
        return 'declined';
      }
      await Promise.all([
        payments
          .query('BEGIN')
          .then(() => payments.query(bookingSql.insertPayment, [bookingId, customerId, amountCents])),
        tickets
          .query('BEGIN')
          .then(() => tickets.query(bookingSql.insertTicket, [bookingId, seatId, bookingId])),
      ]);
      await Promise.all(clients.map((c, i) => c.query(`PREPARE TRANSACTION '${gids[i]}'`)));
      prepared = true;
      // The decision, on the seats connection (free again after its PREPARE), in autocommit.
      await seats.query(
        "INSERT INTO raw_two_phase_decisions (transaction_id, outcome) VALUES ($1, 'commit')",
        [bookingId],
      );
      await Promise.all(clients.map((c, i) => c.query(`COMMIT PREPARED '${gids[i]}'`)));
      return 'confirmed';
    } catch (error) {
      broken = error as Error;
      if (prepared) throw error; // no recovery here: the audit will report what was left
      await Promise.all(
        clients.map((c, i) =>
          c
            .query('ROLLBACK')
            .then(() => c.query(`ROLLBACK PREPARED '${gids[i]}'`))
            .catch(() => {}),
        ),
      );
      throw error;
    } finally {
      for (const client of clients) client.release(broken);
    }
  },
  logStatementsPerBooking: () => 1,
  async reset() {
    await dbs.seats.query('TRUNCATE raw_two_phase_decisions');
  },
});
