import { DBOS } from '@dbos-inc/dbos-sdk';
import type pg from 'pg';
import { withTransaction } from 'txkit';
import { bookingSql } from '../bench-schema.js';
import type { BenchDatabases, BookingModeFactory, BookingRequest, BookingResult } from '../booking-mode.js';
import { countedPool } from './counted-pool.js';

/**
 * The peer a TypeScript user would pick instead of txkit's saga: DBOS Transact (`@dbos-inc/dbos-sdk`), durable
 * workflows checkpointed in the user's own PostgreSQL, no server. The booking is one DBOS workflow of three steps —
 * seat (seats DB), payment (payments DB), ticket (tickets DB) — and a declined payment runs a fourth step that
 * releases the seat (DBOS has no compensation primitive; its documented saga is a try/catch in the workflow).
 * The system database is the seats database (schema `dbos`, DBOS's default), as txkit's saga keeps its log there.
 *
 * DBOS runs a step at least once (a step whose output was not checkpointed before a crash runs again on
 * recovery), so each step's SQL is idempotent: the seat step accepts a seat this booking already holds, the
 * inserts skip a row that exists. Otherwise the steps are raw-saga's, so `dbos / raw-saga` is what DBOS's
 * durability costs, as `saga / raw-saga` is what txkit's costs.
 *
 * DBOS is a process-wide singleton: one dbos mode may be open at a time in a process.
 */
export const dbosMode: BookingModeFactory = async (dbs) => {
  if (DBOS.isInitialized()) throw new Error('dbos: DBOS is already launched in this process');
  const counter = { statements: 0, commits: 0 };
  const systemPool = countedPool(systemPoolOptions(dbs.seats), counter);
  // DBOS's own getting-started configuration (name, applicationVersion, system database) plus what keeps it from
  // being held back here: a system pool as large as the bench's own (DBOS's default is 10, below the bench's
  // 32–64 clients), logs at warn, and plain-JSON checkpoints (below). Tracing and OTLP stay off (the default).
  DBOS.setConfig({
    name: 'txkit-bench',
    // Fixed rather than DBOS's hash of the workflow source, so that a restarted crash-cell process recovers
    // the killed one's workflows whatever it was built from.
    applicationVersion: 'bench-1',
    systemDatabasePool: systemPool,
    logLevel: 'warn',
  });
  const book = registerBookingWorkflow(dbs);
  await DBOS.launch();
  let since = { ...counter, bookings: 0 };
  let bookings = 0;
  return {
    name: 'dbos',
    description:
      'DBOS Transact workflow: seat, payment, ticket as three DBOS steps (release step on a decline), system DB in the seats DB',
    compensates: true,
    async book(request): Promise<BookingResult> {
      bookings++;
      const handle = await DBOS.startWorkflow(book, { workflowID: request.bookingId })(request);
      return handle.getResult();
    },
    logStatementsPerBooking() {
      const n = bookings - since.bookings;
      return n === 0 ? undefined : (counter.statements - since.statements) / n;
    },
    async recover() {
      // DBOS.launch() already re-ran this executor's pending workflows; wait until none is left.
      for (const started = Date.now(); Date.now() - started < 120_000; ) {
        const { rows } = await dbs.seats.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM dbos.workflow_status WHERE status IN ('PENDING', 'ENQUEUED')",
        );
        if (rows[0]?.n === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new Error('dbos: workflows still pending after 120 s of recovery');
    },
    async reset() {
      await dbs.seats.query('TRUNCATE dbos.workflow_status, dbos.operation_outputs CASCADE');
      since = { ...counter, bookings };
    },
    async close() {
      await DBOS.shutdown({ deregister: true });
      await systemPool.end();
    },
  };
};

function registerBookingWorkflow(dbs: BenchDatabases) {
  const seat = (r: BookingRequest) =>
    withTransaction(dbs.seats, async (client) => {
      const row = await client.query<{ booking_id: string | null }>(bookingSql.lockSeat, [r.seatId]);
      const holder = row.rows[0]?.booking_id;
      if (holder === r.bookingId) return true; // a re-run after a crash: the seat is already ours
      if (holder !== null) return false;
      await client.query(bookingSql.takeSeat, [r.seatId, r.bookingId]);
      return true;
    });
  // The payment service's answer and its write are one step, as in txkit's saga: a declined card writes nothing.
  const payment = async (r: BookingRequest) => {
    if (r.declinePayment) return false;
    await dbs.payments.query(`${bookingSql.insertPayment} ON CONFLICT (booking_id) DO NOTHING`, [
      r.bookingId,
      r.customerId,
      r.amountCents,
    ]);
    return true;
  };
  // Steps return nothing rather than pg's result object: DBOS checkpoints a step's output.
  const ticket = async (r: BookingRequest) => {
    await dbs.tickets.query(`${bookingSql.insertTicket} ON CONFLICT (booking_id) DO NOTHING`, [
      r.bookingId,
      r.seatId,
      r.bookingId,
    ]);
  };
  const release = (r: BookingRequest) => async () => {
    await dbs.seats.query(bookingSql.releaseSeat, [r.seatId, r.bookingId]);
  };
  return DBOS.registerWorkflow(
    async (r: BookingRequest): Promise<BookingResult> => {
      if (!(await DBOS.runStep(() => seat(r), { name: 'seat' }))) return 'rejected';
      if (!(await DBOS.runStep(() => payment(r), { name: 'payment' }))) {
        await DBOS.runStep(release(r), { name: 'release-seat' });
        return 'declined';
      }
      await DBOS.runStep(() => ticket(r), { name: 'ticket' });
      return 'confirmed';
    },
    // Plain JSON for the checkpoints (the inputs and outputs here are plain data): DBOS's default, superjson,
    // costs more CPU per checkpoint for type information this workflow does not need.
    { name: 'bench-booking', serialization: 'portable' },
  );
}

// DBOS builds its system pool from systemDatabaseUrl as a pg.Pool with the URL's settings, `max` =
// systemDatabasePoolSize, an application_name and idle_in_transaction_session_timeout = 60 s. The bench builds
// the same pool itself and hands it over (a documented option), only to count the statements DBOS sends.
function systemPoolOptions(seats: pg.Pool): pg.PoolConfig {
  const { connectionString, host, port, user, password, database, max } = seats.options;
  return {
    ...(connectionString ? { connectionString } : { host, port, user, password, database }),
    max,
    application_name: 'dbos_transact_bench',
    options: '-c idle_in_transaction_session_timeout=60000',
  };
}
