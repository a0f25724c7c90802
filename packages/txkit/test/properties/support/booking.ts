import fc from 'fast-check';
import type pg from 'pg';
import { barrier, StepRejectedError, saga, withTransaction } from '../../../src/index.js';
import type { Exec } from './bank.js';
import type { Reading } from './reader.js';
import { QUICK_RETRIES, type StepPolicies } from './step-policies.js';
import { DATABASES, type DatabaseName, SCHEMA, type World } from './world.js';

/** Seats on `a`, payments on `b`, tickets on `c` (the same tables exist everywhere, used where they belong). */
export const BOOKING_DDL = `
  CREATE TABLE seats (seat int PRIMARY KEY, booking text);
  CREATE TABLE payments (booking text NOT NULL, amount int NOT NULL, status text NOT NULL);
  CREATE TABLE tickets (booking text NOT NULL, seat int NOT NULL, status text NOT NULL);
  -- Every applied effect, one row per application (a step applied twice shows as two rows).
  CREATE TABLE effects (booking text NOT NULL, step text NOT NULL, op text NOT NULL);`;

export const BOOKING_STEPS = ['seat', 'pay', 'ticket'] as const;
export type BookingStep = (typeof BOOKING_STEPS)[number];
export const databaseOfStep: Record<BookingStep, DatabaseName> = { seat: 'a', pay: 'b', ticket: 'c' };
/** Few seats, so that bookings compete for them. */
export const SEATS = 3;

export interface Booking {
  id: string;
  seat: number;
  /** The payment provider declines (a business rejection at the second step). */
  declined: boolean;
  /** Ticketing refuses (a business rejection at the last step). */
  ticketRefused: boolean;
  delayMs: number;
}

/** 1-6 concurrent bookings of 3 seats; about one in four is declined, one in six refused a ticket. */
export const bookingsArbitrary: fc.Arbitrary<Booking[]> = fc
  .array(
    fc.record({
      seat: fc.integer({ min: 0, max: SEATS - 1 }),
      declined: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
      ticketRefused: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
      delayMs: fc.integer({ min: 0, max: 15 }),
    }),
    { minLength: 1, maxLength: 6 },
  )
  .map((bs) => bs.map((b, i) => ({ ...b, id: `b${i}` })));

export async function resetBooking(world: World): Promise<void> {
  await world.reset(['seats', 'payments', 'tickets', 'effects']);
  await world.pool('a').query('INSERT INTO seats (seat) SELECT generate_series(0, $1 - 1)', [SEATS]);
}

/** Applies one step's action or compensation through `client`; refusals come before any write. */
export async function applyBookingStep(
  client: Exec,
  b: Booking,
  step: BookingStep,
  op: 'action' | 'compensate',
): Promise<void> {
  if (step === 'seat' && op === 'action') {
    const { rowCount } = await client.query(
      'UPDATE seats SET booking = $1 WHERE seat = $2 AND booking IS NULL',
      [b.id, b.seat],
    );
    if (rowCount !== 1) throw new StepRejectedError('seat-taken', `seat ${b.seat} is taken`);
  } else if (step === 'seat') {
    await client.query('UPDATE seats SET booking = NULL WHERE seat = $2 AND booking = $1', [b.id, b.seat]);
  } else if (step === 'pay' && op === 'action') {
    if (b.declined) throw new StepRejectedError('payment-declined', `payment of ${b.id} declined`);
    await client.query("INSERT INTO payments (booking, amount, status) VALUES ($1, 10, 'charged')", [b.id]);
  } else if (step === 'pay') {
    await client.query("UPDATE payments SET status = 'refunded' WHERE booking = $1 AND status = 'charged'", [
      b.id,
    ]);
  } else if (op === 'action') {
    if (b.ticketRefused) throw new StepRejectedError('ticket-refused', `no ticket for ${b.id}`);
    await client.query("INSERT INTO tickets (booking, seat, status) VALUES ($1, $2, 'issued')", [
      b.id,
      b.seat,
    ]);
  } else {
    await client.query("UPDATE tickets SET status = 'voided' WHERE booking = $1 AND status = 'issued'", [
      b.id,
    ]);
  }
  await client.query('INSERT INTO effects (booking, step, op) VALUES ($1, $2, $3)', [b.id, step, op]);
}

/** The booking saga: seat, pay, ticket — each a barrier-guarded write on its own database, each compensated. */
export function bookingSaga(world: World, policies: StepPolicies = QUICK_RETRIES) {
  const write =
    (step: BookingStep, op: 'action' | 'compensate') =>
    async (ctx: { sagaId: string; step: string; input: Booking }) => {
      await withTransaction(world.pool(databaseOfStep[step]), async (client) => {
        // The barrier's insert commits with the write: each of action and compensation applies at most once.
        if (!(await barrier(client, ctx, op, { schema: SCHEMA })).apply) return;
        await applyBookingStep(client, ctx.input, step, op);
      });
      return { step };
    };
  const options = (step: BookingStep) => ({
    run: write(step, 'action'),
    compensate: async (ctx: { sagaId: string; step: string; input: Booking }) =>
      void (await write(step, 'compensate')(ctx)),
    ...policies,
  });
  return saga<Booking>('booking')
    .step('seat', options('seat'))
    .step('pay', options('pay'))
    .step('ticket', options('ticket'))
    .build();
}

export interface BookingPart {
  seats: { seat: number; booking: string | null }[];
  payments: { booking: string; status: string }[];
  tickets: { booking: string; seat: number; status: string }[];
  effects: { booking: string; step: string; op: string }[];
}

export async function readBookingPart(pool: pg.Pool): Promise<BookingPart> {
  const q = async <R extends pg.QueryResultRow>(sql: string) => (await pool.query<R>(sql)).rows;
  return {
    seats: await q('SELECT seat, booking FROM seats'),
    payments: await q('SELECT booking, status FROM payments'),
    tickets: await q('SELECT booking, seat, status FROM tickets'),
    effects: await q('SELECT booking, step, op FROM effects'),
  };
}

function merge(parts: Iterable<BookingPart>): BookingPart {
  const all: BookingPart = { seats: [], payments: [], tickets: [], effects: [] };
  for (const p of parts) {
    all.seats.push(...p.seats);
    all.payments.push(...p.payments);
    all.tickets.push(...p.tickets);
    all.effects.push(...p.effects);
  }
  return all;
}

export async function readBooking(world: World): Promise<BookingPart> {
  return merge(await Promise.all(DATABASES.map((n) => readBookingPart(world.pool(n)))));
}

/** Which of the booking's three effects are in force in a state. */
function inForce(state: BookingPart, id: string) {
  return {
    seat: state.seats.some((s) => s.booking === id),
    pay: state.payments.some((p) => p.booking === id && p.status === 'charged'),
    ticket: state.tickets.some((t) => t.booking === id && t.status === 'issued'),
  };
}

/** Bookings seen half-done in a reading (some of their effects in force, not all). */
export function halfDoneBookings(reading: Reading<BookingPart>, bookings: readonly Booking[]): string[] {
  const state = merge(Object.values(reading.parts));
  return bookings
    .filter((b) => {
      const f = inForce(state, b.id);
      return !(f.seat === f.pay && f.pay === f.ticket);
    })
    .map((b) => b.id);
}

/** Bookings with any trace (row of any status) in a reading. */
export function visibleBookings(reading: Reading<BookingPart>): Set<string> {
  const state = merge(Object.values(reading.parts));
  return new Set([...state.payments, ...state.tickets, ...state.effects].map((r) => r.booking));
}

/** Whether the booking holds its seat in the final state. */
export function isConfirmed(state: BookingPart, id: string): boolean {
  return inForce(state, id).seat;
}

/**
 * The booking invariants: no seat sold twice; a confirmed booking has exactly one (charged) payment and one
 * (issued) ticket for its seat; a rejected one has none — or, for the saga (`undone: 'compensated'`), at most
 * one refunded payment and one voided ticket; no step applied twice.
 */
export function bookingViolations(
  state: BookingPart,
  bookings: readonly Booking[],
  undone: 'nothing' | 'compensated',
): string[] {
  const violations: string[] = [];
  for (let seat = 0; seat < SEATS; seat++) {
    const issued = state.tickets.filter((t) => t.seat === seat && t.status === 'issued');
    if (issued.length > 1) violations.push(`seat ${seat} sold twice: ${issued.map((t) => t.booking)}`);
  }
  for (const b of bookings) {
    const payments = state.payments.filter((p) => p.booking === b.id);
    const tickets = state.tickets.filter((t) => t.booking === b.id);
    const summary = JSON.stringify({ payments, tickets });
    if (isConfirmed(state, b.id)) {
      const ok =
        payments.length === 1 &&
        payments[0]?.status === 'charged' &&
        tickets.length === 1 &&
        tickets[0]?.status === 'issued' &&
        tickets[0].seat === b.seat;
      if (!ok) violations.push(`${b.id} confirmed but ${summary}`);
    } else if (
      undone === 'nothing' ? payments.length + tickets.length > 0 : !compensated(payments, tickets)
    ) {
      violations.push(`${b.id} rejected but ${summary}`);
    }
    for (const step of BOOKING_STEPS) {
      for (const op of ['action', 'compensate']) {
        const n = state.effects.filter((e) => e.booking === b.id && e.step === step && e.op === op).length;
        if (n > 1) violations.push(`${b.id} ${step} ${op} applied ${n} times`);
      }
    }
  }
  return violations;
}

function compensated(payments: { status: string }[], tickets: { status: string }[]): boolean {
  return (
    payments.length <= 1 &&
    payments.every((p) => p.status === 'refunded') &&
    tickets.length <= 1 &&
    tickets.every((t) => t.status === 'voided')
  );
}
