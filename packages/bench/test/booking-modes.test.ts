import { randomUUID } from 'node:crypto';
import { createTestDatabases, type TestDatabases, testCluster } from 'txkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditBookings } from '../src/library/audit.js';
import { createBenchSchema, resetBenchData } from '../src/library/bench-schema.js';
import type { BenchDatabases, BookingMode, BookingResult } from '../src/library/booking-mode.js';
import { bookingModes } from '../src/library/modes/index.js';

describe('booking modes', () => {
  let test: TestDatabases;
  let dbs: BenchDatabases;

  beforeAll(async () => {
    test = await createTestDatabases(testCluster(), 'bench booking modes');
    dbs = { seats: test.on('a').pool, payments: test.on('b').pool, tickets: test.on('c').pool };
    await createBenchSchema(dbs, 10);
  });
  afterAll(() => test.drop());

  // 30 bookings on 10 seats, 6 at a time (distinct seats within a batch), every fourth payment declined: seats
  // are fought over, and a declined booking frees its seat for a later one (rolled back, or compensated).
  // Returns what each booking got and what a correct protocol must answer, by replaying the same requests on a
  // set of free seats.
  async function bookContended(mode: BookingMode) {
    const free = new Set(Array.from({ length: 10 }, (_, i) => i + 1));
    const got: BookingResult[] = [];
    const expected: BookingResult[] = [];
    for (let round = 0; round < 5; round++) {
      const batch = Array.from({ length: 6 }, (_, i) => ({
        bookingId: randomUUID(),
        seatId: 1 + ((round * 6 + i) % 10),
        customerId: i + 1,
        amountCents: 1200,
        declinePayment: (round * 6 + i) % 4 === 0,
      }));
      got.push(...(await Promise.all(batch.map((r) => mode.book(r)))));
      for (const { seatId, declinePayment } of batch) {
        if (!free.has(seatId)) expected.push('rejected');
        else if (declinePayment) expected.push('declined');
        else {
          expected.push('confirmed');
          free.delete(seatId);
        }
      }
    }
    return { got, expected };
  }

  it.each(Object.keys(bookingModes))(
    '%s answers a contended, partly declined stream as the model says, and the audit finds the databases consistent',
    async (name) => {
      await resetBenchData(dbs, 10);
      const mode = await bookingModes[name]!(dbs);
      await mode.setup?.(dbs);
      await mode.reset?.(dbs);
      const { got, expected } = await bookContended(mode);
      expect(got).toEqual(expected);
      // A saga's end may be written after its answer: the audit reads the databases once it is.
      await mode.settle?.();
      const confirmed = got.filter((r) => r === 'confirmed').length;
      const report = await auditBookings(dbs, mode, confirmed);
      expect(report.violations).toEqual([]);
      expect(report.sagasUnfinished).toBe(0);
      expect(report.preparedLeft).toBe(0);
      await mode.close?.();
    },
  );

  it('saga-floor writes its saga row with the seat and one record per later step in that step’s database', async () => {
    await resetBenchData(dbs, 10);
    const mode = await bookingModes['saga-floor']!(dbs);
    await mode.setup?.(dbs);
    await mode.reset?.(dbs);
    const booking = { bookingId: randomUUID(), seatId: 3, customerId: 1, amountCents: 900 };
    expect(await mode.book(booking)).toBe('confirmed');
    expect(await mode.book({ ...booking, bookingId: randomUUID() })).toBe('rejected');
    const saga = await dbs.seats.query('SELECT key, input FROM bench_floor.saga');
    expect(saga.rows).toEqual([{ key: booking.bookingId, input: booking }]);
    for (const [pool, step] of [
      [dbs.payments, 'payment'],
      [dbs.tickets, 'ticket'],
    ] as const) {
      const records = await pool.query('SELECT saga_key, step FROM bench_floor.step_record');
      expect(records.rows).toEqual([{ saga_key: booking.bookingId, step }]);
    }
    // The rejected booking wrote nothing: 3 statements over 2 bookings.
    expect(mode.logStatementsPerBooking?.()).toBe(1.5);
  });
});
