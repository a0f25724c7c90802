import { afterAll, beforeAll, expect, it } from 'vitest';
import { type DemoHarness, seatsOf, startHarness } from './support/demo-harness.js';

// What the booking routes answer: the same projection everywhere.

let h: DemoHarness;

beforeAll(async () => {
  h = await startHarness('booking answers');
});
afterAll(() => h?.close());

it('GET /api/bookings answers each booking as GET /api/bookings/:id does: without requestHash', async () => {
  const token = await h.signIn(1);
  const [seat] = await seatsOf(h.dbs, 1, 1);
  const booked = await h.book(token, { screeningId: 1, seatIds: [seat!], mode: 'saga' });
  const one = await h.request('GET', `/api/bookings/${booked.body.booking.id}`, { token });
  const list = await h.request('GET', '/api/bookings', { token });

  expect(list.status).toBe(200);
  expect(list.body.bookings.length).toBeGreaterThan(0);
  for (const booking of list.body.bookings) expect(booking).not.toHaveProperty('requestHash');
  expect(list.body.bookings.find((b: { id: string }) => b.id === one.body.booking.id)).toEqual(
    one.body.booking,
  );
});
