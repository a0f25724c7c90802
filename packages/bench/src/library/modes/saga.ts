import {
  migrateBarrier,
  type SagaOutcome,
  SagaRunner,
  type StepContext,
  type StepOutputs,
  StepRejectedError,
  saga,
  withBarrier,
} from 'txkit';
import { bookingSql } from '../bench-schema.js';
import type { BenchDatabases, BookingModeFactory, BookingRequest, BookingResult } from '../booking-mode.js';

type Booking = BookingRequest;

/**
 * The booking as a txkit saga. The log lives in the seats database, so the seat step is a local step: it runs
 * in a transaction on the log pool, and the saga's insert and the seat's record commit with it (exactly once, no
 * barrier). Payment and ticket run on their own databases, guarded by the barrier in the participant's own
 * transaction. The payment's record is deferred: it is written with the ticket's, which also completes the
 * saga — two log statements per booking, one commit of the log's own.
 */
function bookingSaga(dbs: BenchDatabases) {
  const guarded = (
    pool: keyof Omit<BenchDatabases, 'seats'>,
    ctx: StepContext<Booking, StepOutputs>,
    op: 'action' | 'compensate',
    write: (client: import('pg').PoolClient) => Promise<unknown>,
  ) =>
    withBarrier(dbs[pool], ctx, op, async (client, gate) => {
      if (gate.apply) await write(client);
    });
  return saga<Booking>('bench-booking')
    .localStep('seat', {
      run: async ({ client, input }) => {
        const seat = await client.query<{ booking_id: string | null }>(bookingSql.lockSeat, [input.seatId]);
        if (seat.rows[0]?.booking_id !== null) throw new StepRejectedError('seat-taken');
        await client.query(bookingSql.takeSeat, [input.seatId, input.bookingId]);
      },
      compensate: async ({ client, input }) => {
        await client.query('UPDATE seats SET booking_id = NULL WHERE id = $1 AND booking_id = $2', [
          input.seatId,
          input.bookingId,
        ]);
      },
    })
    .step('payment', {
      run: (ctx) => {
        // A declined card: the step refuses, so the saga compensates the seat it already committed.
        if (ctx.input.declinePayment) throw new StepRejectedError('payment-declined');
        return guarded('payments', ctx, 'action', (c) =>
          c.query(bookingSql.insertPayment, [
            ctx.input.bookingId,
            ctx.input.customerId,
            ctx.input.amountCents,
          ]),
        );
      },
      compensate: (ctx) =>
        guarded('payments', ctx, 'compensate', (c) =>
          c.query("UPDATE payments SET status = 'refunded' WHERE booking_id = $1", [ctx.input.bookingId]),
        ),
      // Barrier-guarded with no output: safe to run again, so its record rides with the ticket's.
      deferRecord: true,
    })
    .step('ticket', {
      run: (ctx) =>
        guarded('tickets', ctx, 'action', (c) =>
          c.query(bookingSql.insertTicket, [ctx.input.bookingId, ctx.input.seatId, ctx.input.bookingId]),
        ),
      compensate: (ctx) =>
        guarded('tickets', ctx, 'compensate', (c) =>
          c.query("UPDATE tickets SET status = 'void' WHERE booking_id = $1", [ctx.input.bookingId]),
        ),
    })
    .build();
}

/** The durable saga: txkit's SagaRunner with its log in the seats database, the barrier on payments and tickets. */
export const sagaMode: BookingModeFactory = (dbs) => {
  const definition = bookingSaga(dbs);
  // A short lease, so that a crash-injection run's recovery can take over a killed runner's sagas within seconds.
  const runner = new SagaRunner({ pool: dbs.seats, id: 'bench', sagas: [definition], leaseMs: 3_000 });
  runner.on('error', () => {});
  let since = { statements: 0, bookings: 0 };
  let bookings = 0;
  return {
    name: 'saga',
    description:
      'txkit SagaRunner: log in the seats DB (seat step local), barrier-guarded payment and ticket',
    compensates: true,
    async setup() {
      await runner.migrate();
      await migrateBarrier(dbs.payments);
      await migrateBarrier(dbs.tickets);
    },
    async book(request): Promise<BookingResult> {
      bookings++;
      const outcome: SagaOutcome = await runner.run(definition, request, { key: request.bookingId });
      if (outcome.status === 'completed') return 'confirmed';
      if (outcome.status === 'compensated' && outcome.reason === 'seat-taken') return 'rejected';
      if (outcome.status === 'compensated' && outcome.reason === 'payment-declined') return 'declined';
      throw new Error(
        `saga ${outcome.status}: ${outcome.status === 'failed' ? outcome.compensation.error.message : outcome.reason}`,
      );
    },
    logStatementsPerBooking() {
      const n = bookings - since.bookings;
      return n === 0 ? undefined : (runner.logStatementCount - since.statements) / n;
    },
    async recover() {
      // A killed runner's sagas become claimable when their lease expires: pass until none is unfinished.
      for (const started = Date.now(); Date.now() - started < 120_000; ) {
        await runner.recover({ batchSize: 200 });
        const { rows } = await dbs.seats.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM txkit.saga WHERE status IN ('running', 'compensating')",
        );
        if (rows[0]?.n === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      throw new Error('saga: sagas still unfinished after 120 s of recovery');
    },
    async reset() {
      await dbs.seats.query('TRUNCATE txkit.saga, txkit.saga_step');
      await dbs.payments.query('TRUNCATE txkit.barrier');
      await dbs.tickets.query('TRUNCATE txkit.barrier');
      since = { statements: runner.logStatementCount, bookings };
    },
    async close() {
      await runner.close();
    },
  };
};
