import { randomUUID } from 'node:crypto';
import { type FaultHook, type FaultPoint, SimulatedCrash } from 'txkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BookingService } from '../src/booking/booking-service.js';
import { sweepStaleBookings } from '../src/booking/stale-booking-sweeper.js';
import { TxkitBookingEngine } from '../src/booking/txkit-engine.js';
import { type DemoHarness, seatsOf, startHarness } from './support/demo-harness.js';

// A booking process that "dies" at a fault point, and a restart of it under a new instance id (as deployments
// restart): what it finds in the three databases must be settled by txkit's recovery — taking over the dead
// instance's work once its lease ran out — and the stale-booking sweep into one consistent outcome.

let h: DemoHarness;
const PREPARE_TIMEOUT_MS = 1_000;

beforeAll(async () => {
  h = await startHarness('crash recovery');
});
afterAll(() => h?.close());

function engine(instanceId: string, faults?: FaultHook) {
  const outbox = { enqueue: async () => {} };
  return new TxkitBookingEngine({
    dbs: h.dbs,
    instanceId,
    outbox,
    preparedOutbox: outbox,
    faults: h.faults,
    lockTimeoutMs: 2_000,
    prepareTimeoutMs: PREPARE_TIMEOUT_MS,
    sagaLeaseMs: 500,
    coordinatorLeaseMs: 500,
    recoveryIntervalMs: 200,
    faultHook: faults,
  });
}

function crashAt(point: FaultPoint, step?: string): FaultHook {
  return (site) => {
    if (site.point === point && (step === undefined || site.step === step)) throw new SimulatedCrash(site);
  };
}

async function state(bookingId: string, seatId: number, screeningId: number) {
  const booking = await h.dbs.seats.query('SELECT status, reason FROM cinema.bookings WHERE id = $1', [
    bookingId,
  ]);
  const seat = await h.dbs.seats.query(
    'SELECT status, booking_id FROM cinema.screening_seats WHERE screening_id = $1 AND seat_id = $2',
    [screeningId, seatId],
  );
  const payments = await h.dbs.payments.query('SELECT status FROM cinema.payments WHERE booking_id = $1', [
    bookingId,
  ]);
  const tickets = await h.dbs.tickets.query('SELECT status FROM cinema.tickets WHERE booking_id = $1', [
    bookingId,
  ]);
  const balance = await h.dbs.payments.query(
    'SELECT balance_cents::int AS b FROM cinema.customers WHERE id = 1',
  );
  return {
    booking: booking.rows[0],
    seat: seat.rows[0].status as string,
    payments: payments.rows.map((p) => p.status as string),
    tickets: tickets.rows.map((t) => t.status as string),
    balance: balance.rows[0].b as number,
  };
}

/** Polls `read` until `done` holds; fails with the last value when `timeoutMs` passes first. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`still not done after ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Prepared transactions in this test's payments database (other test files share the server). */
async function preparedInPayments(): Promise<number> {
  const { rows } = await h.dbs.payments.query(
    'SELECT count(*)::int AS n FROM pg_prepared_xacts WHERE database = current_database()',
  );
  return rows[0].n;
}

async function bookWithCrash(mode: 'saga' | '2pc', faults: FaultHook, screeningId: number, seatId: number) {
  const instanceId = `crash-${randomUUID().slice(0, 8)}`;
  const dying = engine(instanceId, faults);
  await dying.migrate();
  const service = new BookingService({
    dbs: h.dbs,
    executor: dying,
    view: dying.view,
    bookingsPerMinute: 1000,
  });
  const { booking } = await service.book(1, { screeningId, seatIds: [seatId], mode }, randomUUID());
  // The process is gone: nothing of it runs any more.
  await dying.stop();
  return { bookingId: booking.id, instanceId, amount: booking.amountCents, statusAtCrash: booking.status };
}

describe('saga', () => {
  it('a crash after the payment took effect but before it was logged: recovery finishes, money taken once', async () => {
    const [seat] = await seatsOf(h.dbs, 5, 1);
    const before = (
      await h.dbs.payments.query('SELECT balance_cents::int AS b FROM cinema.customers WHERE id = 1')
    ).rows[0].b;
    const { bookingId, instanceId, amount, statusAtCrash } = await bookWithCrash(
      'saga',
      crashAt('saga:after-step-effect', 'charge-payment'),
      5,
      seat!,
    );
    expect(statusAtCrash).toBe('pending');

    const restarted = engine(`${instanceId}-next`);
    await restarted.start();
    try {
      const after = await until(
        () => state(bookingId, seat!, 5),
        (s) => s.booking.status !== 'pending',
      );
      expect(after).toEqual({
        booking: { status: 'confirmed', reason: null },
        seat: 'sold',
        payments: ['captured'],
        tickets: ['valid'],
        balance: before - amount,
      });
    } finally {
      await restarted.stop();
    }
  });
});

describe('two-phase commit', () => {
  it('a crash with every branch prepared and no decision: recovery aborts, the sweep records the rejection', async () => {
    const [seat] = await seatsOf(h.dbs, 6, 1);
    const before = (
      await h.dbs.payments.query('SELECT balance_cents::int AS b FROM cinema.customers WHERE id = 1')
    ).rows[0].b;
    const { bookingId, instanceId, statusAtCrash } = await bookWithCrash(
      '2pc',
      crashAt('2pc:before-decision'),
      6,
      seat!,
    );
    expect(statusAtCrash).toBe('pending');

    const restarted = engine(`${instanceId}-next`);
    await restarted.start();
    try {
      // Recovery rolls the orphaned branches back once they are older than the prepare timeout.
      await until(preparedInPayments, (n) => n === 0);
      // The sweep records a 2PC booking rejected once it is older than twice the prepare timeout (by the
      // database's clock): pass after pass until it has.
      await until(
        async () => {
          await sweepStaleBookings({
            dbs: h.dbs,
            executor: restarted,
            prepareTimeoutMs: PREPARE_TIMEOUT_MS,
            onError: () => {},
          });
          return (await state(bookingId, seat!, 6)).booking.status;
        },
        (status) => status !== 'pending',
      );
      expect(await state(bookingId, seat!, 6)).toEqual({
        booking: { status: 'rejected', reason: 'aborted' },
        seat: 'free',
        payments: [],
        tickets: [],
        balance: before,
      });
    } finally {
      await restarted.stop();
    }
  });

  it('a crash right after the commit decision: recovery commits every branch and the booking is confirmed', async () => {
    const [seat] = await seatsOf(h.dbs, 6, 2).then((s) => s.slice(1));
    const before = (
      await h.dbs.payments.query('SELECT balance_cents::int AS b FROM cinema.customers WHERE id = 1')
    ).rows[0].b;
    const { bookingId, instanceId, amount, statusAtCrash } = await bookWithCrash(
      '2pc',
      crashAt('2pc:after-decision'),
      6,
      seat!,
    );
    // The seats branch carried the decision, so the booking's confirmation committed with it; payments and
    // tickets are prepared, their locks held, until recovery commits them.
    expect(statusAtCrash).toBe('confirmed');
    expect((await state(bookingId, seat!, 6)).payments).toEqual([]);

    const restarted = engine(`${instanceId}-next`);
    await restarted.start();
    try {
      const after = await until(
        () => state(bookingId, seat!, 6),
        (s) => s.payments.length > 0 && s.tickets.length > 0,
      );
      expect(after).toEqual({
        booking: { status: 'confirmed', reason: null },
        seat: 'sold',
        payments: ['captured'],
        tickets: ['valid'],
        balance: before - amount,
      });
    } finally {
      await restarted.stop();
    }
  });
});
