import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WaterfallData } from '../src/booking/booking-waterfall.js';
import { WaterfallStore } from '../src/observability/waterfall-store.js';
import { type DemoHarness, seatsOf, startHarness } from './support/demo-harness.js';

let h: DemoHarness;
let alice: string;
let bob: string;

beforeAll(async () => {
  h = await startHarness('booking-waterfall');
  alice = await h.signIn(1);
  bob = await h.signIn(2);
});
afterAll(() => h?.close());

async function waterfalls(bookingId: string, token = alice): Promise<WaterfallData[]> {
  const res = await h.request('GET', `/api/bookings/${bookingId}/waterfall`, { token });
  expect(res.status).toBe(200);
  return res.body.waterfalls;
}

/** Waits until the store has written the booking's `runs` to the seats database (flushes every 250 ms). */
async function written(bookingId: string, runs: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await h.dbs.seats.query(
      'SELECT count(*)::int AS n FROM cinema.booking_waterfalls WHERE booking_id = $1',
      [bookingId],
    );
    if (rows[0].n >= runs) return;
    if (Date.now() > deadline) throw new Error(`waterfall of ${bookingId} not written`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const lanes = (w: WaterfallData) => new Set(w.bars.map((b) => b.lane));

/** Books the `n`th seat of screening 1 as Alice, and answers the booking's waterfall once it is written. */
async function bookAndRead(n: number, mode: 'saga' | '2pc'): Promise<WaterfallData> {
  const seat = (await seatsOf(h.dbs, 1, n))[n - 1];
  const res = await h.book(alice, { screeningId: 1, seatIds: [seat!], mode });
  expect(res.status).toBe(201);
  await written(res.body.booking.id, 1);
  const [w] = await waterfalls(res.body.booking.id);
  expect(lanes(w!)).toEqual(new Set(['coordinator', 'seats', 'payments', 'tickets']));
  return w!;
}

describe('booking waterfalls', () => {
  it('a saga booking: a bar per step on its database, in order, and the coordinator; durable', async () => {
    const w = await bookAndRead(1, 'saga');
    expect(w).toMatchObject({ run: 'booking', protocol: 'saga', outcome: 'completed' });
    const steps = w.bars.filter((b) => b.kind === 'step');
    expect(steps.map((b) => [b.name, b.lane])).toEqual([
      ['reserve-seats', 'seats'],
      ['charge-payment', 'payments'],
      ['issue-tickets', 'tickets'],
      ['confirm-booking', 'seats'],
    ]);
    for (const [i, bar] of steps.entries()) {
      expect(bar.durationMs).toBeGreaterThan(0);
      if (i > 0) expect(bar.startMs).toBeGreaterThanOrEqual(steps[i - 1]!.startMs + steps[i - 1]!.durationMs);
    }
    expect(w.totalMs).toBeGreaterThanOrEqual(Math.max(...steps.map((b) => b.startMs + b.durationMs)));
  });

  it('a 2PC booking: statements per database, then the prepare and commit phases', async () => {
    const w = await bookAndRead(2, '2pc');
    expect(w).toMatchObject({ run: 'booking', protocol: '2pc', outcome: 'committed' });
    const phases = w.bars.filter((b) => b.lane === 'coordinator').map((b) => b.name);
    expect(phases).toEqual(['prepare', 'commit']);
    const lastStatement = Math.max(
      ...w!.bars.filter((b) => b.kind === 'step').map((b) => b.startMs + b.durationMs),
    );
    expect(w.bars.find((b) => b.name === 'prepare')!.startMs).toBeGreaterThanOrEqual(lastStatement);
  });

  it('a rejected saga shows its compensations; a cancellation has a waterfall of its own', async () => {
    const [, , seat, other] = await seatsOf(h.dbs, 1, 4);
    h.faults.ticketFailureRate = 1;
    const rejected = await h.book(alice, { screeningId: 1, seatIds: [seat!], mode: 'saga' });
    h.faults.ticketFailureRate = 0;
    expect(rejected.status).toBe(409);
    const [r] = await waterfalls(rejected.body.booking.id);
    expect(r!.outcome).toBe('compensated: ticket-failed');
    // The failed step is compensated too (its write may have happened), then the ones before it, backwards.
    expect(r!.bars.filter((b) => b.kind === 'compensation').map((b) => b.name)).toEqual([
      'issue-tickets',
      'charge-payment',
      'reserve-seats',
    ]);
    expect(r!.bars.find((b) => b.name === 'issue-tickets')).toMatchObject({ failed: true });

    const booked = await h.book(alice, { screeningId: 1, seatIds: [other!], mode: '2pc' });
    const id = booked.body.booking.id;
    expect((await h.request('POST', `/api/bookings/${id}/cancel`, { token: alice })).status).toBe(200);
    await written(id, 2);
    expect((await waterfalls(id)).map((w) => [w.run, w.outcome])).toEqual([
      ['booking', 'committed'],
      ['cancellation', 'committed'],
    ]);
  });

  it('a booking refused at its first step (the seat was taken) has its waterfall, in either mode', async () => {
    const [, , , , , , seat] = await seatsOf(h.dbs, 1, 7);
    expect((await h.book(bob, { screeningId: 1, seatIds: [seat!], mode: 'saga' })).status).toBe(201);
    for (const mode of ['saga', '2pc'] as const) {
      const refused = await h.book(alice, { screeningId: 1, seatIds: [seat!], mode });
      expect(refused.status).toBe(409);
      await written(refused.body.booking.id, 1);
      const [w] = await waterfalls(refused.body.booking.id);
      // The saga's first step failed; the 2PC's statement answered (the refusal is the demo's) and all rolled back.
      const failed = mode === 'saga' ? 'reserve-seats' : 'rollback';
      expect(w!.bars.find((b) => b.name === failed)).toMatchObject({ failed: true });
    }
  });

  it("another customer's booking answers 404, like a missing one", async () => {
    const [, , , , seat] = await seatsOf(h.dbs, 1, 5);
    const res = await h.book(alice, { screeningId: 1, seatIds: [seat!], mode: 'saga' });
    const other = await h.request('GET', `/api/bookings/${res.body.booking.id}/waterfall`, { token: bob });
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('booking-not-found');
  });
});

describe('the waterfall store', () => {
  const timing = (n: number): WaterfallData => ({
    run: 'booking',
    protocol: 'saga',
    startedAt: new Date().toISOString(),
    totalMs: n,
    outcome: 'completed',
    bars: [{ lane: 'seats', name: 'reserve-seats', kind: 'step', startMs: 0, durationMs: n, failed: false }],
  });

  it('writes a flush of many bookings in one statement', async () => {
    const store = new WaterfallStore({ pool: h.dbs.seats, flushEveryMs: 60_000 });
    const ids = Array.from({ length: 50 }, () => crypto.randomUUID());
    for (const [i, id] of ids.entries()) store.add(id, timing(i + 1));
    let statements = 0;
    const pool = {
      query: (...args: Parameters<pg.Pool['query']>) => {
        statements++;
        return (h.dbs.seats.query as (...a: unknown[]) => unknown)(...args);
      },
    } as unknown as pg.Pool;
    const counted = new WaterfallStore({ pool, flushEveryMs: 60_000 });
    for (const [i, id] of ids.entries()) counted.add(id, timing(i + 1));
    await counted.flush();
    expect(statements).toBe(1);
    const { rows } = await h.dbs.seats.query(
      'SELECT count(*)::int AS n FROM cinema.booking_waterfalls WHERE booking_id = ANY($1)',
      [ids],
    );
    expect(rows[0].n).toBe(50);
    await store.stop();
  });

  it('survives a database error: logs, retries at the next flush, drops after the bound', async () => {
    // Nothing listens on port 1: every flush fails at connect.
    const dead = new pg.Pool({
      connectionString: 'postgres://nobody@127.0.0.1:1/none',
      connectionTimeoutMillis: 500,
    });
    const errors: number[] = [];
    const store = new WaterfallStore({
      pool: dead,
      flushEveryMs: 60_000,
      maxAttempts: 3,
      maxQueued: 10,
      onError: (_error, dropped) => errors.push(dropped),
    });
    const id = crypto.randomUUID();
    store.add(id, timing(1));
    await store.flush();
    await store.flush();
    await store.flush();
    expect(errors).toEqual([0, 0, 1]);
    for (let i = 0; i < 12; i++) store.add(crypto.randomUUID(), timing(1));
    expect(errors.at(-1)).toBe(1); // the 11th and 12th each pushed the oldest out
    expect(errors.length).toBe(5);
    await dead.end();
  });
});
