import { createTestDatabases, type TestDatabases, testCluster } from 'txkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditBookings } from '../src/library/audit.js';
import { bookingSql, createBenchSchema, resetBenchData } from '../src/library/bench-schema.js';
import type { BenchDatabases } from '../src/library/booking-mode.js';
import {
  readSnapshot,
  SAMPLER_APPLICATION_NAME,
  startInconsistencySampler,
} from '../src/library/inconsistency-sampler.js';
import { classifyMixedStates } from '../src/library/mixed-states.js';
import { localMode } from '../src/library/modes/local.js';

const distributed = { name: 'distributed', description: 'test', book: async () => 'confirmed' as const };
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

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

  it('counts a refunded payment and a voided ticket as none, and reports money kept for a declined booking', async () => {
    await resetBenchData(dbs, 10);
    // Booking 21 was compensated completely: payment refunded, ticket voided, seat free — consistent.
    await dbs.payments.query(bookingSql.insertPayment, [uuid(21), 1, 100]);
    await dbs.payments.query("UPDATE payments SET status = 'refunded' WHERE booking_id = $1", [uuid(21)]);
    await dbs.tickets.query(bookingSql.insertTicket, [uuid(21), 2, uuid(21)]);
    await dbs.tickets.query("UPDATE tickets SET status = 'void' WHERE booking_id = $1", [uuid(21)]);
    const clean = await auditBookings(dbs, distributed, { confirmed: 0 });
    expect(clean.violations).toEqual([]);
    expect(clean).toMatchObject({ refunded: 1, voided: 1, payments: 0, tickets: 0 });
    // Booking 22 was declined after its payment was captured, and the refund never happened.
    await dbs.payments.query(bookingSql.insertPayment, [uuid(22), 1, 100]);
    const kept = await auditBookings(dbs, distributed, {});
    expect(kept.violations).toEqual([
      expect.stringContaining('1 payments without a seat (money taken for nothing)'),
    ]);
  });

  it('reports sagas left unfinished in the saga log', async () => {
    await resetBenchData(dbs, 10);
    // The saga log's shape as far as the audit reads it; a real log is tested by the crash runs.
    await dbs.seats.query('CREATE SCHEMA IF NOT EXISTS txkit');
    await dbs.seats.query('CREATE TABLE IF NOT EXISTS txkit.saga (id int PRIMARY KEY, status text NOT NULL)');
    await dbs.seats.query(
      "INSERT INTO txkit.saga VALUES (1, 'completed'), (2, 'compensating'), (3, 'failed')",
    );
    const report = await auditBookings(dbs, distributed, {});
    expect(report.sagasUnfinished).toBe(2);
    expect(report.violations).toEqual(['2 sagas unfinished']);
    await dbs.seats.query('DROP SCHEMA txkit CASCADE');
  });

  it('the sampler reads a half-done booking across the three databases as mixed, a finished one as not', async () => {
    await resetBenchData(dbs, 10);
    await dbs.seats.query(bookingSql.takeSeat, [3, uuid(31)]);
    await dbs.seats.query(bookingSql.takeSeat, [4, uuid(32)]);
    await dbs.payments.query(bookingSql.insertPayment, [uuid(32), 1, 100]);
    await dbs.seats.query(bookingSql.takeSeat, [6, uuid(33)]);
    await dbs.payments.query(bookingSql.insertPayment, [uuid(33), 1, 100]);
    await dbs.tickets.query(bookingSql.insertTicket, [uuid(33), 6, uuid(33)]);
    const mixed = classifyMixedStates(await readSnapshot(dbs));
    expect(Object.fromEntries(mixed)).toEqual({
      [uuid(31)]: 'seat-without-payment',
      [uuid(32)]: 'payment-without-ticket',
    });
  });

  it('the sampler samples in a worker thread of its own and reports what it saw while running', async () => {
    // State left by the previous test: one booking with only a seat, one with seat and payment.
    const urls = ['a', 'b', 'c'].map((name) => test.on(name).connectionString);
    const sampler = await startInconsistencySampler(urls, { kind: 'library', singleDatabase: false });
    // Each sample reads the tickets database once: once its connection there has started a third query, the
    // first two samples are complete.
    const started = new Set<string>();
    await expect
      .poll(
        async () => {
          const { rows } = await dbs.tickets.query<{ at: string }>(
            `SELECT query_start::text AS at FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = $1 AND query_start IS NOT NULL`,
            [SAMPLER_APPLICATION_NAME],
          );
          for (const row of rows) started.add(row.at);
          return started.size;
        },
        { timeout: 10_000, interval: 5, message: 'the sampler never began a third sample' },
      )
      .toBeGreaterThanOrEqual(3);
    const report = await sampler.stop();
    expect(report.samples).toBeGreaterThan(1);
    expect(report.samplesWithMixed).toBe(report.samples);
    expect(report.bookingsByState).toEqual({
      'seat-without-payment': 1,
      'payment-without-ticket': 1,
      'refund-pending': 0,
    });
  });
});
