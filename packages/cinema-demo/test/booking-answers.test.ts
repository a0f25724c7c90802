import { randomUUID } from 'node:crypto';
import { SimulatedCrash } from 'txkit/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withDeadline } from '../src/deadline.js';
import { type DemoHarness, seatsOf, startHarness } from './support/demo-harness.js';
import { otherInstance } from './support/other-instance.js';

// What the booking routes answer: the same projection everywhere, and a real reason with every rejection.

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

it('a retry after a crash answers a rejection that recovery compensated with its reason, never a null one', async () => {
  // The process dies after selling the seat, before charging; txkit's recovery (in the harness's API) resumes
  // the saga, the payment is declined, and the compensation marks the booking rejected — without a reason,
  // which only the dead process would have written.
  const dying = await otherInstance(h, {
    sagaLeaseMs: 300,
    faultHook: (site) => {
      if (site.point === 'saga:before-step' && site.step === 'charge-payment') throw new SimulatedCrash(site);
    },
  });
  // Declined from the start: the dying process crashes before its charge, the resumed saga is declined.
  h.faults.paymentDeclineRate = 1;
  const key = randomUUID();
  const [seat] = await seatsOf(h.dbs, 2, 1);
  const request = { screeningId: 2, seatIds: [seat!], mode: 'saga' as const };
  const { booking } = await dying.service.book(1, request, key);
  expect(booking.status).toBe('pending');
  await dying.engine.stop();
  try {
    await withDeadline(untilStatus(booking.id, 'rejected'), 20_000, 'recovery to compensate the saga');
  } finally {
    h.faults.paymentDeclineRate = 0;
  }
  const token = await h.signIn(1);
  const retry = await h.book(token, request, key);

  // The retry answers the refusal as the first attempt would have: 409, never a 2xx.
  expect(retry.status).toBe(409);
  expect(retry.headers.get('idempotent-replayed')).toBe('true');
  expect(retry.body.booking).toMatchObject({
    id: booking.id,
    status: 'rejected',
    reason: 'payment-declined',
    message: expect.any(String),
  });
});

async function untilStatus(id: string, status: string): Promise<void> {
  for (;;) {
    const { rows } = await h.dbs.seats.query('SELECT status FROM cinema.bookings WHERE id = $1', [id]);
    if (rows[0]?.status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
