import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseSeats, reserveSeats } from '../src/booking/seats-participant.js';
import { type DemoHarness, seatsOf, startHarness } from './support/demo-harness.js';

let h: DemoHarness;
const tokens: string[] = [];

beforeAll(async () => {
  h = await startHarness('contention');
  for (const customer of [1, 2, 3, 4]) tokens.push(await h.signIn(customer));
});
afterAll(() => h?.close());

describe.each(['saga', '2pc'] as const)('20 concurrent requests for one seat in %s mode', (mode) => {
  it('confirm exactly one; the others are rejected as taken, and nothing else is written', async () => {
    const screeningId = mode === 'saga' ? 1 : 2;
    const [seat] = await seatsOf(h.dbs, screeningId, 1);
    // Some payment latency widens the window in which the requests overlap.
    h.faults.paymentLatencyMs = 20;
    let results: Awaited<ReturnType<DemoHarness['book']>>[];
    try {
      results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => h.book(tokens[i % 4]!, { screeningId, seatIds: [seat!], mode })),
      );
    } finally {
      h.faults.paymentLatencyMs = 0;
    }
    const statuses = results.map((r) => r.body.booking?.status ?? `http ${r.status}`);
    expect(statuses.filter((s) => s === 'confirmed')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'rejected')).toHaveLength(19);
    for (const r of results.filter((x) => x.body.booking.status === 'rejected')) {
      expect(r.status).toBe(409);
      expect(['seat-taken', 'seat-locked']).toContain(r.body.booking.reason);
    }
    const winner = results.find((r) => r.body.booking.status === 'confirmed')!.body.booking.id;
    const live = await h.dbs.seats.query(
      'SELECT booking_id FROM cinema.booking_seats WHERE screening_id = $1 AND seat_id = $2 AND released_at IS NULL',
      [screeningId, seat],
    );
    expect(live.rows).toEqual([{ booking_id: winner }]);
    const captured = await h.dbs.payments.query(
      "SELECT booking_id FROM cinema.payments WHERE status = 'captured' AND booking_id = ANY($1)",
      [results.map((r) => r.body.booking.id)],
    );
    expect(captured.rows).toEqual([{ booking_id: winner }]);
    const tickets = await h.dbs.tickets.query(
      "SELECT booking_id FROM cinema.tickets WHERE status = 'valid' AND seat_id = $1 AND screening_id = $2",
      [seat, screeningId],
    );
    expect(tickets.rows).toEqual([{ booking_id: winner }]);
  });
});

describe('a booking that waits for a seat another transaction is freeing', () => {
  // Under READ COMMITTED a statement that waits for a row lock reads the row as its holder committed it, but the
  // rest of the statement keeps its snapshot. The freeing commit must not leave the waiter believing it sold a
  // seat it never wrote (the HAProxy failover test caught a booking confirmed with no seat row this way).
  it('sells it once the freeing commits, or reports it taken — never confirms without the seat', async () => {
    const screeningId = 3;
    const [seat] = await seatsOf(h.dbs, screeningId, 1);
    const first = await h.book(tokens[0]!, { screeningId, seatIds: [seat!], mode: '2pc' });
    expect(first.body.booking.status).toBe('confirmed');

    const second = randomUUID();
    await h.dbs.seats.query(
      `INSERT INTO cinema.bookings
         (id, customer_id, idempotency_key, request_hash, screening_id, seat_ids, mode, amount_cents, status)
       VALUES ($1, 2, $2, 'test', $3, $4, '2pc', 100, 'pending')`,
      [second, randomUUID(), screeningId, [seat]],
    );
    const freeing = await h.dbs.seats.connect();
    const waiting = await h.dbs.seats.connect();
    try {
      await freeing.query('BEGIN');
      await releaseSeats(freeing, first.body.booking.id);
      await waiting.query('BEGIN');
      const reserving = reserveSeats(waiting, {
        bookingId: second,
        customerId: 2,
        screeningId,
        seatIds: [seat!],
        amountCents: 100,
      });
      // Ordered, not timed: the reservation is waiting for the freeing transaction's row lock.
      await expect
        .poll(
          async () =>
            (
              await h.dbs.seats.query<{ waiting: boolean }>(
                "SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = $1",
                [(waiting as unknown as { processID: number }).processID],
              )
            ).rows[0]?.waiting,
          { timeout: 10_000, interval: 20 },
        )
        .toBe(true);
      await freeing.query('COMMIT');
      const sold = await reserving;
      await waiting.query('COMMIT');
      expect(sold).toEqual([{ screeningId, seatId: seat, status: 'sold', version: expect.any(Number) }]);
      const live = await h.dbs.seats.query(
        'SELECT booking_id FROM cinema.booking_seats WHERE screening_id = $1 AND seat_id = $2 AND released_at IS NULL',
        [screeningId, seat],
      );
      expect(live.rows).toEqual([{ booking_id: second }]);
    } finally {
      await freeing.query('ROLLBACK').catch(() => undefined);
      await waiting.query('ROLLBACK').catch(() => undefined);
      freeing.release();
      waiting.release();
    }
  });
});
