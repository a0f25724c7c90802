import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
