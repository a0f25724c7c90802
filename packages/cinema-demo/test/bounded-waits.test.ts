import { randomUUID } from 'node:crypto';
import { isRetryablePostgresError } from 'txkit';
import type { FaultHook } from 'txkit/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sweepStaleBookings } from '../src/booking/stale-booking-sweeper.js';
import { withDeadline } from '../src/deadline.js';
import { type DemoHarness, seatsOf, startHarness } from './support/demo-harness.js';
import { type Leftover, prepareLeftover } from './support/leftovers.js';
import { otherInstance } from './support/other-instance.js';

// A dead instance's prepared transactions keep their row locks until recovery resolves them. Participant work
// must fail such a wait after the lock timeout (and be retried or answered), never wait for it.

const LOCK_TIMEOUT_MS = 200;
let h: DemoHarness;
const leftovers: Leftover[] = [];

beforeAll(async () => {
  h = await startHarness('bounded waits', { LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS) });
});
afterAll(async () => {
  for (const leftover of leftovers) await leftover.rollback();
  await h?.close();
});

/** A leftover holding the customer's wallet row, as a dead 2PC charge leaves it. */
async function holdWallet(customerId: number): Promise<Leftover> {
  const leftover = await prepareLeftover(
    h.dbs.payments,
    'SELECT 1 FROM cinema.customers WHERE id = $1 FOR UPDATE',
    [customerId],
  );
  leftovers.push(leftover);
  return leftover;
}

async function balanceOf(customerId: number): Promise<number> {
  const { rows } = await h.dbs.payments.query(
    'SELECT balance_cents::int AS b FROM cinema.customers WHERE id = $1',
    [customerId],
  );
  return rows[0].b;
}

async function seatStatus(screeningId: number, seatId: number): Promise<string> {
  const { rows } = await h.dbs.seats.query(
    'SELECT status FROM cinema.screening_seats WHERE screening_id = $1 AND seat_id = $2',
    [screeningId, seatId],
  );
  return rows[0].status;
}

it('txkit retries a lock timeout (55P03): a saga step that times out is retried, not failed for good', () => {
  expect(isRetryablePostgresError({ code: '55P03' })).toBe(true);
});

it('a saga step blocked by a leftover times out, is retried, and the booking ends rejected with its seat free', async () => {
  const token = await h.signIn(2);
  const [seat] = await seatsOf(h.dbs, 1, 1);
  const before = await balanceOf(2);
  const leftover = await holdWallet(2);
  const retries: string[] = [];
  const onRetry = (event: { step: string }) => retries.push(event.step);
  h.api.engine.runner.on('step:retrying', onRetry);
  try {
    const res = await withDeadline(
      h.book(token, { screeningId: 1, seatIds: [seat!], mode: 'saga' }),
      20_000,
      'saga booking behind a leftover',
    );
    expect(res.status).toBe(409);
    expect(res.body.booking).toMatchObject({ status: 'rejected', reason: 'aborted' });
    // The charge waited for the wallet, timed out, and was retried by txkit's policy until it gave up.
    expect(retries.filter((step) => step === 'charge-payment').length).toBeGreaterThan(0);
    const history = await h.api.engine.runner.history({ name: 'book-seats', key: res.body.booking.id });
    expect(history).toMatchObject({
      status: 'compensated',
      failedStep: 'charge-payment',
      reason: 'retries-exhausted',
    });
    expect(history?.error?.message).toMatch(/lock timeout/);
    expect(await seatStatus(1, seat!)).toBe('free');
  } finally {
    h.api.engine.runner.off('step:retrying', onRetry);
    await leftover.rollback();
  }
  expect(await balanceOf(2)).toBe(before);
});

it('a 2PC branch blocked by a leftover rolls back after the lock timeout and answers the rejection', async () => {
  const token = await h.signIn(2);
  const [, seat] = await seatsOf(h.dbs, 2, 2);
  const before = await balanceOf(2);
  const leftover = await holdWallet(2);
  try {
    const res = await withDeadline(
      h.book(token, { screeningId: 2, seatIds: [seat!], mode: '2pc' }),
      20_000,
      '2PC booking behind a leftover',
    );
    // Everything rolled back (the lock wait failed before any prepare): a known outcome, not a pending one.
    expect(res.status).toBe(409);
    expect(res.body.booking).toMatchObject({ status: 'rejected', reason: 'aborted' });
    expect(await seatStatus(2, seat!)).toBe('free');
  } finally {
    await leftover.rollback();
  }
  expect(await balanceOf(2)).toBe(before);
});

it('a compensation blocked by a leftover waits it out: answered pending in bounded time, rejected once the lock is gone', async () => {
  let leftover: Leftover | undefined;
  // The wallet is taken by a "leftover" right after the charge committed, before the tickets fail.
  const takeWalletAfterCharge: FaultHook = async (site) => {
    if (site.point === 'saga:before-step' && site.step === 'issue-tickets' && !leftover) {
      leftover = await holdWallet(3);
    }
  };
  const errors: unknown[] = [];
  const { engine, service } = await otherInstance(h, {
    faults: { paymentDeclineRate: 0, paymentLatencyMs: 0, ticketFailureRate: 1, random: () => 0 },
    faultHook: takeWalletAfterCharge,
    onError: (error) => errors.push(error),
    answerWithinMs: 1_000,
  });
  const [seat] = await seatsOf(h.dbs, 3, 1);
  const before = await balanceOf(3);
  try {
    const { booking } = await withDeadline(
      service.book(3, { screeningId: 3, seatIds: [seat!], mode: 'saga' }, randomUUID()),
      10_000,
      'the answer to a booking whose compensation is blocked',
    );
    // The refund cannot get the wallet yet: the compensation keeps retrying (a dead instance's lock lasts until
    // the takeover), so the request is answered pending instead of waiting for it.
    expect(booking.status).toBe('pending');
    expect(await engine.runner.stuck()).toEqual([]);
    await leftover!.rollback();
    // The lock is gone: the next retry refunds, and the booking ends rejected, with its reason, by itself.
    await expect
      .poll(async () => (await h.api.service.get(booking.id)).status, { timeout: 30_000 })
      .toBe('rejected');
    expect((await h.api.service.get(booking.id)).reason).not.toBeNull();
    expect(await seatStatus(3, seat!)).toBe('free');
    expect(await balanceOf(3)).toBe(before);
    expect(errors).toEqual([]);
  } finally {
    await leftover?.rollback();
    await engine.stop();
  }
});

it('a cancellation step blocked by a leftover fails after its retries instead of hanging; the sweep finishes it later', async () => {
  const token = await h.signIn(4);
  const [seat] = await seatsOf(h.dbs, 4, 1);
  const balanceBefore = await balanceOf(4);
  const booked = await h.book(token, { screeningId: 4, seatIds: [seat!], mode: 'saga' });
  expect(booked.body.booking.status).toBe('confirmed');
  const leftover = await holdWallet(4);
  try {
    const res = await withDeadline(
      h.request('POST', `/api/bookings/${booked.body.booking.id}/cancel`, { token }),
      20_000,
      'cancellation behind a leftover',
    );
    expect(res.status).toBe(500);
    const { rows } = await h.dbs.seats.query('SELECT status FROM cinema.bookings WHERE id = $1', [
      booked.body.booking.id,
    ]);
    // Left for the sweep (and visible to operators), not waiting on the lock.
    expect(rows[0].status).toBe('cancelling');
  } finally {
    await leftover.rollback();
  }
  // Once the lock is gone the sweep finishes it, although the cancellation saga gave up: it runs it again.
  const report = await sweepStaleBookings({
    dbs: h.dbs,
    executor: h.api.engine,
    prepareTimeoutMs: h.config.PREPARE_TIMEOUT_MS,
    staleAfterMs: 0,
    onError: () => {},
  });
  expect(report.settled).toContain(booked.body.booking.id);
  expect((await h.api.service.get(booked.body.booking.id)).status).toBe('cancelled');
  expect(await balanceOf(4)).toBe(balanceBefore);
});
