import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BookingService } from '../src/booking/booking-service.js';
import * as seatsSql from '../src/db/seats-sql.js';
import { type DemoHarness, seatsOf, startHarness } from './support/demo-harness.js';

// Two cancels of one booking at once (a double click, two tabs, two instances behind the proxy). The race is
// ordered explicitly: the loser reads the booking (still confirmed), the winner claims it, then the loser tries.

let h: DemoHarness;

beforeAll(async () => {
  h = await startHarness('cancel race');
});
afterAll(() => h?.close());

const claimText = seatsSql.transitionBooking('', '', '').text;

/** The seats pool, with `hook` run around the cancellation's claim (the confirmed -> cancelling update). */
function seatsAroundClaim(hook: { before?: () => Promise<void>; after?: () => void }): pg.Pool {
  const pool = h.dbs.seats;
  return new Proxy(pool, {
    get(target, property) {
      if (property === 'query') {
        return async (text: unknown, values?: unknown[]) => {
          const isClaim = text === claimText;
          if (isClaim) await hook.before?.();
          const result = await target.query(text as string, values);
          if (isClaim) hook.after?.();
          return result;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function signal() {
  let fire!: () => void;
  const fired = new Promise<void>((resolve) => (fire = resolve));
  return { fire, fired };
}

describe.each(['saga', '2pc'] as const)('%s booking', (mode) => {
  it('both cancels get the winner answer: the booking cancelled', async () => {
    const screeningId = mode === 'saga' ? 1 : 2;
    const token = await h.signIn(1);
    const [seat] = await seatsOf(h.dbs, screeningId, 1);
    const booked = await h.book(token, { screeningId, seatIds: [seat!], mode });
    expect(booked.body.booking.status).toBe('confirmed');
    const id: string = booked.body.booking.id;

    const loserRead = signal();
    const winnerClaimed = signal();
    const service = (seats: pg.Pool) =>
      new BookingService({
        dbs: { ...h.dbs, seats },
        executor: h.api.engine,
        view: h.api.engine.view,
        bookingsPerMinute: 1000,
      });
    const loser = service(
      seatsAroundClaim({
        before: async () => {
          loserRead.fire();
          await winnerClaimed.fired;
        },
      }),
    );
    const winner = service(seatsAroundClaim({ after: () => winnerClaimed.fire() }));

    const losing = loser.cancel(1, id);
    await loserRead.fired;
    const [won, lost] = await Promise.allSettled([winner.cancel(1, id), losing]);

    expect(won).toMatchObject({ status: 'fulfilled', value: { id, status: 'cancelled' } });
    expect(lost).toEqual(won);
    const payment = await h.dbs.payments.query('SELECT status FROM cinema.payments WHERE booking_id = $1', [
      id,
    ]);
    expect(payment.rows).toEqual([{ status: 'refunded' }]);
  });
});
