import { createTestDatabases, type TestDatabases, testCluster } from 'txkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditBookings } from '../src/library/audit.js';
import { bookingSql, createBenchSchema } from '../src/library/bench-schema.js';
import type { BenchDatabases } from '../src/library/booking-mode.js';
import { localMode } from '../src/library/modes/local.js';

describe('library bench audit', () => {
  let test: TestDatabases;
  let dbs: BenchDatabases;

  beforeAll(async () => {
    test = await createTestDatabases(testCluster(), 'bench audit');
    dbs = { seats: test.on('a').pool, payments: test.on('b').pool, tickets: test.on('c').pool };
    await createBenchSchema(dbs, 10);
  });
  afterAll(() => test.drop());

  it('passes a consistent local run and refuses a second booking of the same seat', async () => {
    const mode = await localMode(dbs);
    const id = '00000000-0000-4000-8000-000000000001';
    expect(await mode.book({ bookingId: id, seatId: 1, customerId: 1, amountCents: 100 })).toBe('confirmed');
    expect(
      await mode.book({
        bookingId: '00000000-0000-4000-8000-000000000002',
        seatId: 1,
        customerId: 2,
        amountCents: 100,
      }),
    ).toBe('rejected');
    expect((await auditBookings(dbs, mode, 1)).violations).toEqual([]);
  });

  it('reports a seat taken with no payment or ticket across databases, and a wrong confirmed count', async () => {
    const distributed = { name: 'broken', description: 'test', book: async () => 'confirmed' as const };
    await dbs.seats.query(bookingSql.takeSeat, [5, '00000000-0000-4000-8000-000000000005']);
    const report = await auditBookings(dbs, distributed, 0);
    expect(report.violations).toEqual(
      expect.arrayContaining([
        expect.stringContaining('seats taken without a payment'),
        expect.stringContaining('seats taken without a ticket'),
        expect.stringMatching(/^0 bookings confirmed but \d+ seats taken/),
      ]),
    );
  });

  it('counts prepared transactions left behind', async () => {
    const client = await dbs.payments.connect();
    try {
      await client.query('BEGIN');
      await client.query(bookingSql.insertPayment, ['00000000-0000-4000-8000-000000000009', 1, 100]);
      await client.query("PREPARE TRANSACTION 'bench-audit-left'");
    } finally {
      client.release();
    }
    const report = await auditBookings(
      dbs,
      { name: 'x', description: 'x', book: async () => 'confirmed' },
      0,
    );
    expect(report.preparedLeft).toBe(1);
    await dbs.payments.query("ROLLBACK PREPARED 'bench-audit-left'");
  });
});
