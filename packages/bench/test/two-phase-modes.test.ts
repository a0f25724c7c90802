import { randomUUID } from 'node:crypto';
import { createTestDatabases, type TestDatabases, testCluster } from 'txkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditBookings } from '../src/library/audit.js';
import { createBenchSchema, resetBenchData } from '../src/library/bench-schema.js';
import type { BenchDatabases } from '../src/library/booking-mode.js';
import { bookingModes } from '../src/library/modes/index.js';

describe('2PC bench modes', () => {
  let test: TestDatabases;
  let dbs: BenchDatabases;

  beforeAll(async () => {
    test = await createTestDatabases(testCluster(), 'bench two-phase modes');
    dbs = { seats: test.on('a').pool, payments: test.on('b').pool, tickets: test.on('c').pool };
    await createBenchSchema(dbs, 10);
  });
  afterAll(() => test.drop());

  it.each(['2pc', '2pc-separate', 'raw-2pc'])(
    '%s books each contended seat once, and the audit finds the three databases consistent',
    async (name) => {
      await resetBenchData(dbs, 10);
      const mode = await bookingModes[name]!(dbs);
      await mode.setup?.(dbs);
      await mode.reset?.(dbs);
      // 30 bookings on 10 seats, 6 at a time: every seat is fought over.
      const results: string[] = [];
      for (let round = 0; round < 5; round++) {
        const batch = Array.from({ length: 6 }, (_, i) => ({
          bookingId: randomUUID(),
          seatId: 1 + ((round * 6 + i) % 10),
          customerId: i + 1,
          amountCents: 1200,
        }));
        results.push(...(await Promise.all(batch.map((r) => mode.book(r)))));
      }
      const confirmed = results.filter((r) => r === 'confirmed').length;
      expect(confirmed).toBe(10);
      expect(results.filter((r) => r === 'rejected')).toHaveLength(20);
      const report = await auditBookings(dbs, mode, confirmed);
      expect(report.violations).toEqual([]);
      expect(report.preparedLeft).toBe(0);
      await mode.close?.();
    },
  );
});
