import {
  type LocalStepContext,
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
 * How the booking's payment and ticket steps run: `guarded` — one after the other as guarded steps (their
 * records are their barrier rows, the saga's end is written after the answer); `logged` — one after the other,
 * their records in the saga log (txkit's design before guarded steps); `parallel` — as guarded parallel branches.
 */
type Shape = 'guarded' | 'logged' | 'parallel';

const modeNames: Record<Shape, string> = {
  guarded: 'saga',
  logged: 'saga-logged',
  parallel: 'saga-parallel',
};
const descriptions: Record<Shape, string> = {
  guarded:
    'txkit SagaRunner: log in the seats DB (seat step local), payment and ticket guarded steps (records in their own DBs)',
  logged:
    'txkit SagaRunner: seat step local, barrier-guarded payment and ticket with their records in the saga log',
  parallel: 'txkit SagaRunner as `saga`, with payment ∥ ticket as parallel guarded branches',
};

/**
 * The booking as a txkit saga. The log lives in the seats database, so the seat step is a local step: it runs
 * in a transaction on the log pool, and the saga's insert and the seat's record commit with it (exactly once, no
 * barrier). Payment and ticket run on their own databases, guarded by the barrier in the participant's own
 * transaction. Guarded: the runner opens those transactions, the barrier row is the step's record, and the saga's
 * end goes to the log (group-committed) after `run()` answered — one log statement in the seat's transaction and
 * a share of a batched end per booking. Logged: the payment's record is deferred and written with the ticket's,
 * which also completes the saga — two log statements, one commit of the log's own. Parallel: as guarded, with
 * payment and ticket running at once (`parallelGuarded`).
 */
function bookingSaga(dbs: BenchDatabases, shape: Shape) {
  const guarded = (
    pool: keyof Omit<BenchDatabases, 'seats'>,
    ctx: StepContext<Booking, StepOutputs>,
    op: 'action' | 'compensate',
    write: (client: import('pg').PoolClient) => Promise<unknown>,
  ) =>
    withBarrier(dbs[pool], ctx, op, async (client, gate) => {
      if (gate.apply) await write(client);
    });
  const payment = {
    run: (ctx: StepContext<Booking, StepOutputs>) => {
      // A declined card: the step refuses, so the saga compensates the seat it already committed.
      if (ctx.input.declinePayment) throw new StepRejectedError('payment-declined');
      return guarded('payments', ctx, 'action', (c) =>
        c.query(bookingSql.insertPayment, [ctx.input.bookingId, ctx.input.customerId, ctx.input.amountCents]),
      );
    },
    compensate: (ctx: StepContext<Booking, StepOutputs>) =>
      guarded('payments', ctx, 'compensate', (c) =>
        c.query("UPDATE payments SET status = 'refunded' WHERE booking_id = $1", [ctx.input.bookingId]),
      ),
    // Barrier-guarded with no output: safe to run again, so its record rides with the ticket's.
    deferRecord: true,
  };
  const ticket = {
    run: (ctx: StepContext<Booking, StepOutputs>) =>
      guarded('tickets', ctx, 'action', (c) =>
        c.query(bookingSql.insertTicket, [ctx.input.bookingId, ctx.input.seatId, ctx.input.bookingId]),
      ),
    compensate: (ctx: StepContext<Booking, StepOutputs>) =>
      guarded('tickets', ctx, 'compensate', (c) =>
        c.query("UPDATE tickets SET status = 'void' WHERE booking_id = $1", [ctx.input.bookingId]),
      ),
  };
  const seated = saga<Booking>(`bench-booking-${shape}`).localStep('seat', {
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
  });
  if (shape === 'logged') return seated.step('payment', payment).step('ticket', ticket).build();
  const guardedPayment = {
    pool: dbs.payments,
    run: async ({ client, input }: LocalStepContext<Booking, StepOutputs>) => {
      if (input.declinePayment) throw new StepRejectedError('payment-declined');
      await client.query(bookingSql.insertPayment, [input.bookingId, input.customerId, input.amountCents]);
    },
    compensate: async ({ client, input }: LocalStepContext<Booking, StepOutputs>) => {
      await client.query("UPDATE payments SET status = 'refunded' WHERE booking_id = $1", [input.bookingId]);
    },
  };
  const guardedTicket = {
    pool: dbs.tickets,
    run: async ({ client, input }: LocalStepContext<Booking, StepOutputs>) => {
      await client.query(bookingSql.insertTicket, [input.bookingId, input.seatId, input.bookingId]);
    },
    compensate: async ({ client, input }: LocalStepContext<Booking, StepOutputs>) => {
      await client.query("UPDATE tickets SET status = 'void' WHERE booking_id = $1", [input.bookingId]);
    },
  };
  if (shape === 'parallel') {
    return seated.parallelGuarded({ payment: guardedPayment, ticket: guardedTicket }).build();
  }
  return seated.guardedStep('payment', guardedPayment).guardedStep('ticket', guardedTicket).build();
}

/** A txkit saga mode: SagaRunner with its log in the seats database, the barrier on payments and tickets. */
const sagaModeOf =
  (shape: Shape): BookingModeFactory =>
  (dbs) => {
    const definition = bookingSaga(dbs, shape);
    // A short lease, so that a crash-injection run's recovery can take over a killed runner's sagas within seconds.
    const runner = new SagaRunner({ pool: dbs.seats, id: 'bench', sagas: [definition], leaseMs: 3_000 });
    runner.on('error', () => {});
    let since = { statements: 0, bookings: 0 };
    let bookings = 0;
    return {
      name: modeNames[shape],
      description: descriptions[shape],
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
      settle: () => runner.idle(),
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

/** The durable saga: seat, then payment, then ticket, the last two as guarded steps. */
export const sagaMode: BookingModeFactory = sagaModeOf('guarded');

/** The durable saga with the payment's and ticket's records in the saga log (the design before guarded steps). */
export const sagaLoggedMode: BookingModeFactory = sagaModeOf('logged');

/** The durable saga with payment ∥ ticket after the seat. */
export const sagaParallelMode: BookingModeFactory = sagaModeOf('parallel');
