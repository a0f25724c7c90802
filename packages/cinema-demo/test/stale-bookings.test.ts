import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sweepStaleBookings } from '../src/booking/stale-booking-sweeper.js';
import { type DemoHarness, seatsOf, startHarness } from './support/demo-harness.js';

let h: DemoHarness;

beforeAll(async () => {
  h = await startHarness('stale bookings');
});
afterAll(() => h?.close());

// What a process that died right after claiming the idempotency key leaves behind: a pending booking, nothing else.
async function orphanBooking(mode: 'saga' | '2pc', seatId: number, ageSeconds: number): Promise<string> {
  const id = randomUUID();
  await h.dbs.seats.query(
    `INSERT INTO cinema.bookings (id, customer_id, idempotency_key, request_hash, screening_id, seat_ids, mode,
                                  amount_cents, status, created_at, updated_at)
     VALUES ($1, 1, $2, 'x', 1, $3, $4, 1200, 'pending', now() - make_interval(secs => $5), now() - make_interval(secs => $5))`,
    [id, randomUUID(), [seatId], mode, ageSeconds],
  );
  return id;
}

async function bookingRow(id: string) {
  const { rows } = await h.dbs.seats.query(
    'SELECT status, reason, ticket_codes FROM cinema.bookings WHERE id = $1',
    [id],
  );
  return rows[0];
}

it('finishes bookings a dead process left pending, and leaves recent ones alone', async () => {
  const [s1, s2, s3] = await seatsOf(h.dbs, 1, 3);
  const saga = await orphanBooking('saga', s1!, 120);
  const twoPhase = await orphanBooking('2pc', s2!, 2 * (h.config.PREPARE_TIMEOUT_MS / 1000) + 5);
  const recent = await orphanBooking('2pc', s3!, 1);

  const finished = await sweepStaleBookings({
    dbs: h.dbs,
    engine: h.api.engine,
    prepareTimeoutMs: h.config.PREPARE_TIMEOUT_MS,
    onError: () => {},
  });

  expect(finished).toBe(2);
  // The saga had never started: the accepted request is carried out.
  expect(await bookingRow(saga)).toMatchObject({ status: 'confirmed' });
  expect((await bookingRow(saga)).ticket_codes).toHaveLength(1);
  // The 2PC booking never committed (its confirmation is part of the same commit): nothing was booked.
  expect(await bookingRow(twoPhase)).toMatchObject({ status: 'rejected', reason: 'aborted' });
  const seat = await h.dbs.seats.query(
    'SELECT status FROM cinema.screening_seats WHERE screening_id = 1 AND seat_id = $1',
    [s2],
  );
  expect(seat.rows[0].status).toBe('free');
  expect(await bookingRow(recent)).toMatchObject({ status: 'pending' });
});

it('runs a cancellation that a dead process left half done again', async () => {
  const token = await h.signIn(1);
  const [, , , seat] = await seatsOf(h.dbs, 1, 4);
  const booked = await h.book(token, { screeningId: 1, seatIds: [seat!], mode: 'saga' });
  const id = booked.body.booking.id;
  // Died after claiming the cancellation, before any step.
  await h.dbs.seats.query(
    "UPDATE cinema.bookings SET status = 'cancelling', updated_at = now() - interval '5 minutes' WHERE id = $1",
    [id],
  );
  await sweepStaleBookings({
    dbs: h.dbs,
    engine: h.api.engine,
    prepareTimeoutMs: h.config.PREPARE_TIMEOUT_MS,
    onError: () => {},
  });
  expect(await bookingRow(id)).toMatchObject({ status: 'cancelled' });
  const payment = await h.dbs.payments.query('SELECT status FROM cinema.payments WHERE booking_id = $1', [
    id,
  ]);
  expect(payment.rows).toEqual([{ status: 'refunded' }]);
});
