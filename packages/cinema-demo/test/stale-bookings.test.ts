import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sweepStaleBookings } from '../src/booking/stale-booking-sweeper.js';
import { withDeadline } from '../src/deadline.js';
import { type DemoHarness, seatsOf, startHarness } from './support/demo-harness.js';
import { prepareLeftover } from './support/leftovers.js';
import { otherInstance } from './support/other-instance.js';

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

  const report = await sweepStaleBookings({
    dbs: h.dbs,
    executor: h.api.engine,
    prepareTimeoutMs: h.config.PREPARE_TIMEOUT_MS,
    onError: () => {},
  });

  expect(report).toEqual({ settled: expect.any(Array), unsettled: [], failedParts: [] });
  expect([...report.settled].sort()).toEqual([saga, twoPhase].sort());
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
    executor: h.api.engine,
    prepareTimeoutMs: h.config.PREPARE_TIMEOUT_MS,
    onError: () => {},
  });
  expect(await bookingRow(id)).toMatchObject({ status: 'cancelled' });
  const payment = await h.dbs.payments.query('SELECT status FROM cinema.payments WHERE booking_id = $1', [
    id,
  ]);
  expect(payment.rows).toEqual([{ status: 'refunded' }]);
});

it('one stuck saga holds up nothing: 2PC bookings are settled in the same pass, and what is not settled is reported', async () => {
  // A saga that an instance still alive is stuck in (its lease kept fresh): the sweep cannot get its outcome.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const stuckInstance = await otherInstance(h, {
    faultHook: async (site) => {
      if (site.point === 'saga:before-step' && site.step === 'charge-payment') await released;
    },
  });
  const key = randomUUID();
  const [seat] = await seatsOf(h.dbs, 2, 1);
  const stuckBooking = stuckInstance.service.book(1, { screeningId: 2, seatIds: [seat!], mode: 'saga' }, key);
  const stuck = await withDeadline(stuckSagaBooking(key), 10_000, 'the stuck saga to start');
  await h.dbs.seats.query(
    "UPDATE cinema.bookings SET updated_at = now() - interval '5 minutes' WHERE id = $1",
    [stuck],
  );
  // Two 2PC bookings a dead process left: one plain, one whose row a prepared transaction still holds — its
  // confirmation, that recovery has yet to commit.
  const staleAge = 2 * (h.config.PREPARE_TIMEOUT_MS / 1000) + 5;
  const [, , , , s5, s6] = await seatsOf(h.dbs, 1, 6);
  const plain = await orphanBooking('2pc', s5!, staleAge);
  const confirming = await orphanBooking('2pc', s6!, staleAge);
  const confirmation = await prepareLeftover(
    h.dbs.seats,
    "UPDATE cinema.bookings SET status = 'confirmed' WHERE id = $1",
    [confirming],
  );
  const options = {
    dbs: h.dbs,
    executor: h.api.engine,
    prepareTimeoutMs: h.config.PREPARE_TIMEOUT_MS,
    limits: { lockTimeoutMs: 200 },
    bookingTimeoutMs: 1_000,
    onError: () => {},
  };
  try {
    const report = await withDeadline(sweepStaleBookings(options), 10_000, 'a sweep pass');

    expect(report.settled).toContain(plain);
    expect(await bookingRow(plain)).toMatchObject({ status: 'rejected', reason: 'aborted' });
    expect(report.unsettled).toEqual(
      expect.arrayContaining([
        { bookingId: stuck, mode: 'saga', part: 'saga bookings', reason: expect.any(String) },
        {
          bookingId: confirming,
          mode: '2pc',
          part: '2pc bookings',
          reason: expect.stringContaining(`locked by prepared transaction '${confirmation.gid}'`),
        },
      ]),
    );
    expect(report.failedParts).toEqual([]);
    // Not rejected while its confirmation may still commit.
    expect(await bookingRow(confirming)).toMatchObject({ status: 'pending' });

    // Recovery commits the confirmation: the next pass finds nothing to reject, and the confirmation stands.
    await confirmation.commit();
    const next = await withDeadline(sweepStaleBookings(options), 10_000, 'the next pass');
    expect(next.unsettled.map((u) => u.bookingId)).not.toContain(confirming);
    expect(await bookingRow(confirming)).toMatchObject({ status: 'confirmed', reason: null });
  } finally {
    await confirmation.rollback();
    release();
    await stuckBooking;
    await stuckInstance.engine.stop();
  }
});

/** The id of the booking claimed with `key`, once it exists. */
async function stuckSagaBooking(key: string): Promise<string> {
  for (;;) {
    const { rows } = await h.dbs.seats.query('SELECT id FROM cinema.bookings WHERE idempotency_key = $1', [
      key,
    ]);
    if (rows[0]) return rows[0].id;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
