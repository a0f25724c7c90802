import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { pino } from 'pino';
import { InProcessBus } from 'txkit/outbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_BALANCE_CENTS } from '../src/db/seed.js';
import { startApi } from '../src/server/api-runtime.js';
import { type DemoHarness, seatsOf, startHarness, writeCounts } from './support/demo-harness.js';

const modes = ['saga', '2pc'] as const;
let h: DemoHarness;
let alice: string;

beforeAll(async () => {
  h = await startHarness('booking');
  alice = await h.signIn(1);
});
afterAll(() => h?.close());

async function balanceOf(customerId: number): Promise<number> {
  const { rows } = await h.dbs.payments.query(
    'SELECT balance_cents::int AS b FROM cinema.customers WHERE id = $1',
    [customerId],
  );
  return rows[0].b;
}

/**
 * Watches the answers `pool` gives (the API's seats pool is the test's as well), so that a test can wait for a
 * step of a request in flight (`watch(...).seen`), and hold that request there until `hold` resolves.
 */
function watchAnswers(pool: pg.Pool) {
  type Watch = {
    matches: (text: string, values: readonly unknown[], rows: readonly Row[]) => boolean;
    hold: Promise<void> | undefined;
    seen: boolean;
  };
  const query = pool.query;
  const watches: Watch[] = [];
  pool.query = function (this: pg.Pool, ...args: unknown[]) {
    const answer: unknown = Reflect.apply(query, this, args);
    if (!(answer instanceof Promise)) return answer;
    const [first, second] = args as [string | { text: string; values?: unknown[] }, unknown[] | undefined];
    const text = typeof first === 'string' ? first : first.text;
    const values = (typeof first === 'string' ? second : first.values) ?? [];
    return answer.then(async (result: { rows: Row[] }) => {
      for (const w of watches) {
        if (!w.matches(text, values, result.rows)) continue;
        w.seen = true;
        await w.hold;
      }
      return result;
    });
  } as typeof pool.query;
  return {
    watch(matches: Watch['matches'], hold?: Promise<void>): { readonly seen: boolean } {
      const watch = { matches, hold, seen: false };
      watches.push(watch);
      return watch;
    },
    stop() {
      pool.query = query;
    },
  };
}
type Row = Record<string, unknown>;

async function seatStatus(screeningId: number, seatIds: number[]) {
  const { rows } = await h.dbs.seats.query(
    'SELECT seat_id, status, booking_id FROM cinema.screening_seats WHERE screening_id = $1 AND seat_id = ANY($2) ORDER BY seat_id',
    [screeningId, seatIds],
  );
  return rows;
}

describe.each(modes)('booking in %s mode', (mode) => {
  // Each mode books on its own screening so the two never share seats.
  const screeningId = mode === 'saga' ? 1 : 2;

  it('confirms with ticket codes, sells the seats, takes the server-computed price and issues tickets', async () => {
    const seatIds = (await seatsOf(h.dbs, screeningId, 2)).slice(0, 2);
    const { rows } = await h.dbs.seats.query('SELECT price_cents FROM cinema.screenings WHERE id = $1', [
      screeningId,
    ]);
    const price = rows[0].price_cents as number;
    const before = await balanceOf(1);

    const res = await h.book(alice, { screeningId, seatIds, mode });

    expect(res.status).toBe(201);
    expect(res.body.booking).toMatchObject({
      status: 'confirmed',
      mode,
      amountCents: 2 * price,
      customerId: 1,
    });
    expect(res.body.booking.ticketCodes).toHaveLength(2);
    const bookingId = res.body.booking.id;
    expect(await seatStatus(screeningId, seatIds)).toEqual(
      seatIds.map((seat_id) => ({ seat_id, status: 'sold', booking_id: bookingId })),
    );
    expect(await balanceOf(1)).toBe(before - 2 * price);
    const payments = await h.dbs.payments.query(
      'SELECT amount_cents, status FROM cinema.payments WHERE booking_id = $1',
      [bookingId],
    );
    expect(payments.rows).toEqual([{ amount_cents: 2 * price, status: 'captured' }]);
    const tickets = await h.dbs.tickets.query(
      'SELECT code, status FROM cinema.tickets WHERE booking_id = $1',
      [bookingId],
    );
    expect(tickets.rows.map((t) => t.code).sort()).toEqual([...res.body.booking.ticketCodes].sort());
    expect(tickets.rows.every((t) => t.status === 'valid')).toBe(true);
  });

  it('payment declined: rejected with the reason, seats free again, no ticket, balance unchanged', async () => {
    const seatIds = (await seatsOf(h.dbs, screeningId, 10)).slice(5, 7);
    const before = await writeCounts(h.dbs);
    const balance = await balanceOf(1);
    h.faults.paymentDeclineRate = 1;
    try {
      const res = await h.book(alice, { screeningId, seatIds, mode });
      // A refusal answers 409 (never a 2xx), with the rejected booking and its reason in the body.
      expect(res.status).toBe(409);
      expect(res.body.booking).toMatchObject({ status: 'rejected', reason: 'payment-declined' });
      const after = await writeCounts(h.dbs);
      expect(after).toEqual({ ...before, bookings: before.bookings + 1 });
      expect(await balanceOf(1)).toBe(balance);
      expect(
        (await seatStatus(screeningId, seatIds)).every((s) => s.status === 'free' && !s.booking_id),
      ).toBe(true);
      const tickets = await h.dbs.tickets.query('SELECT 1 FROM cinema.tickets WHERE booking_id = $1', [
        res.body.booking.id,
      ]);
      expect(tickets.rowCount).toBe(0);
    } finally {
      h.faults.paymentDeclineRate = 0;
    }
  });

  it('ticket failure: rejected, the payment refunded, seats free again', async () => {
    const seatIds = (await seatsOf(h.dbs, screeningId, 12)).slice(10, 11);
    const balance = await balanceOf(1);
    h.faults.ticketFailureRate = 1;
    try {
      const res = await h.book(alice, { screeningId, seatIds, mode });
      expect(res.body.booking).toMatchObject({ status: 'rejected', reason: 'ticket-failed' });
      expect(await balanceOf(1)).toBe(balance);
      expect((await seatStatus(screeningId, seatIds))[0].status).toBe('free');
      const payment = await h.dbs.payments.query('SELECT status FROM cinema.payments WHERE booking_id = $1', [
        res.body.booking.id,
      ]);
      // Saga: the charge happened and was refunded; 2PC: it never became visible.
      expect(payment.rows).toEqual(mode === 'saga' ? [{ status: 'refunded' }] : []);
    } finally {
      h.faults.ticketFailureRate = 0;
    }
  });

  it('a retry with the same key returns the same outcome and books nothing twice, also while the first runs', async () => {
    const seatIds = (await seatsOf(h.dbs, screeningId, 20)).slice(15, 16);
    const key = randomUUID();
    const before = await writeCounts(h.dbs);
    const answers = watchAnswers(h.dbs.seats);
    // The first request claims the key (its row commits), and is then held before it books anything until the
    // retry, sent only after the claim, has found that claim still pending.
    let releaseFirst: () => void = () => {};
    const firstHeld = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    const claimed = answers.watch(
      (text, values, rows) =>
        text.includes('INSERT INTO cinema.bookings') &&
        values[2] === key &&
        rows[0]?.claimedAmountCents != null,
      firstHeld,
    );
    const foundPending = answers.watch(
      // The retry's admission finds the key taken, and its read of that booking finds it pending.
      (_text, _values, rows) => rows[0]?.idempotencyKey === key && rows[0]?.status === 'pending',
    );
    let first: Awaited<ReturnType<DemoHarness['book']>>;
    let concurrent: Awaited<ReturnType<DemoHarness['book']>>;
    try {
      const firstRequest = h.book(alice, { screeningId, seatIds, mode }, key);
      await expect
        .poll(() => claimed.seen, { timeout: 10_000, message: 'the first request never claimed the key' })
        .toBe(true);
      const retry = h.book(alice, { screeningId, seatIds, mode }, key);
      await expect
        .poll(() => foundPending.seen, {
          timeout: 10_000,
          message: "the retry never found the first request's claim pending",
        })
        .toBe(true);
      releaseFirst();
      [first, concurrent] = await Promise.all([firstRequest, retry]);
    } finally {
      releaseFirst();
      answers.stop();
    }
    expect(first.status).toBe(201);
    const later = await h.book(alice, { screeningId, seatIds, mode }, key);
    expect(first.body.booking.status).toBe('confirmed');
    for (const retry of [concurrent, later]) {
      expect(retry.status).toBe(200);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(retry.body.booking).toEqual(first.body.booking);
    }
    const after = await writeCounts(h.dbs);
    expect(after.bookings).toBe(before.bookings + 1);
    expect(after.payments).toBe(before.payments + 1);
    expect(after.tickets).toBe(before.tickets + 1);
  });

  it('the same key with a different request is refused and writes nothing', async () => {
    const seatIds = (await seatsOf(h.dbs, screeningId, 30)).slice(25, 27);
    const key = randomUUID();
    await h.book(alice, { screeningId, seatIds: [seatIds[0]!], mode }, key);
    const before = await writeCounts(h.dbs);
    const res = await h.book(alice, { screeningId, seatIds: [seatIds[1]!], mode }, key);
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('idempotency-key-reused');
    expect(await writeCounts(h.dbs)).toEqual(before);
  });

  it('cancel releases the seats, refunds and voids the tickets', async () => {
    const seatIds = (await seatsOf(h.dbs, screeningId, 40)).slice(35, 37);
    const balance = await balanceOf(1);
    const booked = await h.book(alice, { screeningId, seatIds, mode });
    expect(booked.body.booking.status).toBe('confirmed');
    const id = booked.body.booking.id;

    const res = await h.request('POST', `/api/bookings/${id}/cancel`, { token: alice });

    expect(res.status).toBe(200);
    expect(res.body.booking.status).toBe('cancelled');
    expect(await balanceOf(1)).toBe(balance);
    expect((await seatStatus(screeningId, seatIds)).every((s) => s.status === 'free')).toBe(true);
    const live = await h.dbs.seats.query(
      'SELECT count(*)::int AS n FROM cinema.booking_seats WHERE booking_id = $1 AND released_at IS NULL',
      [id],
    );
    expect(live.rows[0].n).toBe(0);
    const payment = await h.dbs.payments.query('SELECT status FROM cinema.payments WHERE booking_id = $1', [
      id,
    ]);
    expect(payment.rows).toEqual([{ status: 'refunded' }]);
    const tickets = await h.dbs.tickets.query('SELECT status FROM cinema.tickets WHERE booking_id = $1', [
      id,
    ]);
    expect(tickets.rows.map((t) => t.status)).toEqual(['void', 'void']);
    // The seats can be sold again.
    const again = await h.book(alice, { screeningId, seatIds, mode });
    expect(again.body.booking.status).toBe('confirmed');
    // Cancelling twice answers the cancelled booking again and refunds nothing more.
    const twice = await h.request('POST', `/api/bookings/${id}/cancel`, { token: alice });
    expect(twice.body.booking.status).toBe('cancelled');
  });
});

it("a confirmed saga booking writes its log only inside its steps' own transactions", async () => {
  const [seatId] = (await seatsOf(h.dbs, 3, 6)).slice(5, 6);
  const res = await h.book(alice, { screeningId: 3, seatIds: [seatId!], mode: 'saga' });
  expect(res.body.booking.status).toBe('confirmed');
  const bookingId = res.body.booking.id;
  // xmin: the transaction that wrote a row's current version.
  const saga = await h.dbs.seats.query(
    "SELECT id, status, xmin::text AS tx FROM txkit.saga WHERE name = 'book-seats' AND key = $1",
    [bookingId],
  );
  expect(saga.rows).toEqual([{ id: expect.any(String), status: 'completed', tx: expect.any(String) }]);
  const records = await h.dbs.seats.query(
    "SELECT step, xmin::text AS tx FROM txkit.saga_step WHERE saga_id = $1 AND kind = 'action' ORDER BY created_at, step",
    [saga.rows[0].id],
  );
  const txOf = Object.fromEntries(records.rows.map((r) => [r.step, r.tx]));
  expect(Object.keys(txOf).sort()).toEqual([
    'charge-payment',
    'confirm-booking',
    'issue-tickets',
    'reserve-seats',
  ]);
  // The seat sale commits with the saga's first record (the saga's insert rides in it) ...
  const seat = await h.dbs.seats.query(
    'SELECT xmin::text AS tx FROM cinema.screening_seats WHERE screening_id = 3 AND seat_id = $1',
    [seatId],
  );
  expect(seat.rows[0].tx).toBe(txOf['reserve-seats']);
  // ... and the confirmation with the payment's and the tickets' deferred records and the saga's end.
  const booking = await h.dbs.seats.query('SELECT xmin::text AS tx FROM cinema.bookings WHERE id = $1', [
    bookingId,
  ]);
  for (const step of ['charge-payment', 'issue-tickets', 'confirm-booking']) {
    expect(txOf[step]).toBe(booking.rows[0].tx);
  }
  expect(saga.rows[0].tx).toBe(booking.rows[0].tx);
  // The local steps need no barrier; the participants in other databases have theirs.
  const barrier = 'SELECT step FROM txkit.barrier WHERE saga_id = $1';
  expect((await h.dbs.seats.query(barrier, [saga.rows[0].id]).catch(() => ({ rows: [] }))).rows).toEqual([]);
  expect((await h.dbs.payments.query(barrier, [saga.rows[0].id])).rows).toEqual([{ step: 'charge-payment' }]);
  expect((await h.dbs.tickets.query(barrier, [saga.rows[0].id])).rows).toEqual([{ step: 'issue-tickets' }]);
});

it('insufficient funds is a rejection with its reason', async () => {
  const bob = await h.signIn(2);
  await h.dbs.payments.query('UPDATE cinema.customers SET balance_cents = 100 WHERE id = 2');
  try {
    const seatIds = (await seatsOf(h.dbs, 3, 1)).slice(0, 1);
    const res = await h.book(bob, { screeningId: 3, seatIds, mode: 'saga' });
    expect(res.body.booking).toMatchObject({ status: 'rejected', reason: 'insufficient-funds' });
  } finally {
    await h.dbs.payments.query('UPDATE cinema.customers SET balance_cents = $1 WHERE id = 2', [
      SEED_BALANCE_CENTS,
    ]);
  }
});

it('the operations view lists prepared transactions nobody resolved as in doubt', async () => {
  // Gids are unique per server, and the test servers are shared: make this one unique.
  const gid = `foreign-in-doubt-${randomUUID()}`;
  const client = await h.dbs.payments.connect();
  try {
    await client.query('BEGIN');
    await client.query('UPDATE cinema.customers SET balance_cents = balance_cents WHERE id = 4');
    await client.query(`PREPARE TRANSACTION '${gid}'`);
  } finally {
    client.release();
  }
  try {
    const res = await h.request('GET', '/api/ops/transactions', {
      headers: { authorization: `Bearer ${h.config.OPERATOR_TOKEN}` },
    });
    expect(res.body.inDoubt).toEqual([{ participant: 'payments', gid, preparedAt: expect.any(String) }]);
  } finally {
    await h.dbs.payments.query(`ROLLBACK PREPARED '${gid}'`);
  }
});

it('the operations view lists recent sagas with their steps and 2PC transactions with their phases', async () => {
  const res = await h.request('GET', '/api/ops/transactions', {
    headers: { authorization: `Bearer ${h.config.OPERATOR_TOKEN}` },
  });
  expect(res.status).toBe(200);
  // A saga compensated after its seats were sold (a declined payment) shows their release; one refused at the
  // seats (its local first step rolled back) has nothing to undo.
  const compensated = res.body.sagas.filter((s: { status: string }) => s.status.startsWith('compensated'));
  const stepNames = compensated.map((s: { steps: { name: string }[] }) => s.steps.map((step) => step.name));
  expect(stepNames).toContainEqual(expect.arrayContaining(['reserve-seats (undo)']));
  expect(res.body.sagas.some((s: { status: string }) => s.status === 'completed')).toBe(true);
  expect(res.body.twoPhase.some((t: { phase: string }) => t.phase === 'committed')).toBe(true);
  expect(res.body.inDoubt).toEqual([]);
  expect(res.body.stuck).toEqual([]);
});

it("a booking's timeline from an instance that did not run it: from the saga log, or the booking's record", async () => {
  // A second API instance on the same databases, as behind the load balancer.
  const other = await startApi({
    config: { ...h.config, INSTANCE_ID: 'other-instance' },
    bus: new InProcessBus(),
    logger: pino({ level: 'silent' }),
    withReadModel: false,
    dbs: h.dbs,
    faults: h.faults,
    recoveryIntervalMs: 500,
    relayPollMs: 100,
    sweepIntervalMs: false,
  });
  try {
    const { rows } = await h.dbs.seats.query(
      "SELECT seat_id FROM cinema.screening_seats WHERE screening_id = 1 AND status = 'free' ORDER BY seat_id LIMIT 1",
    );
    const booked = await h.book(alice, { screeningId: 1, seatIds: [rows[0].seat_id], mode: 'saga' });
    expect(booked.body.booking.status).toBe('confirmed');
    const path = `/api/bookings/${booked.body.booking.id}/timeline`;
    const res = await fetch(`${other.url}${path}`, { headers: { authorization: `Bearer ${alice}` } });
    expect(res.status).toBe(200);
    const { events } = (await res.json()) as { events: { kind: string; name: string; status: string }[] };
    expect(events.map((e) => `${e.kind} ${e.name} ${e.status}`)).toEqual([
      'step reserve-seats completed',
      'step charge-payment completed',
      'step issue-tickets completed',
      'step confirm-booking completed',
      'step book-seats completed',
    ]);

    // 2PC keeps no log of its phases: the other instance answers from the booking's record.
    const { rows: free } = await h.dbs.seats.query(
      "SELECT seat_id FROM cinema.screening_seats WHERE screening_id = 2 AND status = 'free' ORDER BY seat_id LIMIT 1",
    );
    const twoPhase = await h.book(alice, { screeningId: 2, seatIds: [free[0].seat_id], mode: '2pc' });
    expect(twoPhase.body.booking.status).toBe('confirmed');
    const fromRecord = await fetch(`${other.url}/api/bookings/${twoPhase.body.booking.id}/timeline`, {
      headers: { authorization: `Bearer ${alice}` },
    });
    const recordEvents = ((await fromRecord.json()) as { events: { kind: string; status: string }[] }).events;
    expect(recordEvents.map((e) => `${e.kind} ${e.status}`)).toEqual([
      'request received',
      'request confirmed',
    ]);
  } finally {
    await other.close();
  }
});
