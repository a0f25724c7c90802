import type pg from 'pg';
import { withTransaction } from 'txkit';
import { bookingSql } from '../bench-schema.js';
import type { BookingModeFactory, BookingResult } from '../booking-mode.js';

/**
 * The rows no crash-safe saga log can do without, each written inside a step's own transaction (no commit of the
 * log's own): the saga's row — its idempotency key, its input for a resumer, a lease — with the first step, and
 * one record per later step in that step's database, whose primary key is what keeps a re-run from taking effect
 * twice. Kept smaller than any real log: no step outputs, no status, no secondary index.
 */
const floorDdl = {
  /** The seats database (where the first step runs): the saga rows. */
  saga: `CREATE SCHEMA IF NOT EXISTS bench_floor;
    CREATE TABLE IF NOT EXISTS bench_floor.saga (
      key text PRIMARY KEY, input jsonb NOT NULL, lease_until timestamptz NOT NULL)`,
  /** Each later step's database: its records. */
  steps: `CREATE SCHEMA IF NOT EXISTS bench_floor;
    CREATE TABLE IF NOT EXISTS bench_floor.step_record (
      saga_key text NOT NULL, step text NOT NULL, PRIMARY KEY (saga_key, step))`,
};

// Named, so that each connection plans them once (as txkit's runner does with its hot log statements).
const insertSaga = {
  name: 'bench-floor-insert-saga',
  text: "INSERT INTO bench_floor.saga (key, input, lease_until) VALUES ($1, $2, now() + interval '30 s')",
};
const insertRecord = {
  name: 'bench-floor-insert-record',
  text: 'INSERT INTO bench_floor.step_record (saga_key, step) VALUES ($1, $2)',
};

/**
 * Baseline: the no-log saga (`raw-saga`) plus only the rows of {@link floorDdl} — hand-written, with no runner,
 * no barrier, no end-of-saga write and no commit beyond the three steps' own. It is not crash-safe as it stands
 * (nothing resumes it); it measures what the writes a durable log cannot avoid cost on these servers, so that
 * `saga` can be read against the least any durable saga would pay.
 */
export const sagaFloorMode: BookingModeFactory = (dbs) => {
  const stepDatabases = [dbs.payments, dbs.tickets];
  // Counted as sent (a declined booking writes only the saga row), since the last reset.
  let logStatements = 0;
  let bookings = 0;
  const withRecord = (
    pool: pg.Pool,
    sagaKey: string,
    step: string,
    write: (client: pg.PoolClient) => Promise<unknown>,
  ) =>
    withTransaction(pool, async (client) => {
      await write(client);
      logStatements++;
      await client.query({ ...insertRecord, values: [sagaKey, step] });
    });
  return {
    name: 'saga-floor',
    description:
      'the no-log saga plus the log rows no durable saga avoids, inside the steps’ own transactions (no runner)',
    compensates: true,
    async setup() {
      await dbs.seats.query(floorDdl.saga);
      for (const pool of stepDatabases) await pool.query(floorDdl.steps);
    },
    async reset() {
      await dbs.seats.query('TRUNCATE bench_floor.saga');
      for (const pool of stepDatabases) await pool.query('TRUNCATE bench_floor.step_record');
      logStatements = 0;
      bookings = 0;
    },
    async book(request): Promise<BookingResult> {
      const { bookingId, seatId, customerId, amountCents, declinePayment } = request;
      bookings++;
      const taken = await withTransaction(dbs.seats, async (client) => {
        const seat = await client.query<{ booking_id: string | null }>(bookingSql.lockSeat, [seatId]);
        if (seat.rows[0]?.booking_id !== null) return false;
        await client.query(bookingSql.takeSeat, [seatId, bookingId]);
        logStatements++;
        await client.query({ ...insertSaga, values: [bookingId, JSON.stringify(request)] });
        return true;
      });
      if (!taken) return 'rejected';
      if (declinePayment) {
        await dbs.seats.query(bookingSql.releaseSeat, [seatId, bookingId]);
        return 'declined';
      }
      await withRecord(dbs.payments, bookingId, 'payment', (client) =>
        client.query(bookingSql.insertPayment, [bookingId, customerId, amountCents]),
      );
      await withRecord(dbs.tickets, bookingId, 'ticket', (client) =>
        client.query(bookingSql.insertTicket, [bookingId, seatId, bookingId]),
      );
      return 'confirmed';
    },
    logStatementsPerBooking: () => (bookings === 0 ? undefined : logStatements / bookings),
  };
};
