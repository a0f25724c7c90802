import pg from 'pg';
import { createTestDatabases, type TestDatabases, testCluster } from 'txkit/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeDatabases, type Databases, openDatabases } from '../src/db/databases.js';
import { boundedTransaction, connectionOptions, limitsToSet } from '../src/db/wait-limits.js';

const limits = { lockTimeoutMs: 750, statementTimeoutMs: 9_000 };
let testDbs: TestDatabases;
let dbs: Databases;

beforeAll(async () => {
  testDbs = await createTestDatabases(testCluster(), 'connection limits');
  const url = testDbs.on('a').connectionString;
  dbs = openDatabases({ seats: url, payments: url, tickets: url }, { max: 2, limits }, () => {});
});
afterAll(async () => {
  if (dbs) await closeDatabases(dbs);
  await testDbs?.drop();
});

const shown = async (q: pg.Pool | pg.PoolClient) => {
  const { rows } = await q.query<{ lock: string; statement: string }>(
    "SELECT current_setting('lock_timeout') AS lock, current_setting('statement_timeout') AS statement",
  );
  return rows[0];
};

it("every connection of the demo's pools carries the limits, so a transaction sets none", async () => {
  expect(connectionOptions(limits)).toBe('-c lock_timeout=750 -c statement_timeout=9000');
  expect(await shown(dbs.seats)).toEqual({ lock: '750ms', statement: '9s' });
  expect(limitsToSet(dbs.seats, limits)).toEqual({});
  // Another limit than the pool's is still set for the transaction.
  expect(limitsToSet(dbs.seats, { lockTimeoutMs: 100, statementTimeoutMs: 9_000 })).toEqual({
    lockTimeoutMs: 100,
  });
  expect(await boundedTransaction(dbs.seats, { lockTimeoutMs: 100 }, shown)).toEqual({
    lock: '100ms',
    statement: '9s',
  });
});

it('a pool without them (one a test or an application shares) gets them per transaction', async () => {
  const plain = new pg.Pool({ connectionString: testDbs.on('a').connectionString, max: 1 });
  try {
    expect(limitsToSet(plain, limits)).toEqual(limits);
    expect(await boundedTransaction(plain, limits, shown)).toEqual({ lock: '750ms', statement: '9s' });
    expect((await shown(plain))?.lock, 'only for that transaction').toBe('0');
  } finally {
    await plain.end();
  }
});

it('refuses limits that are not positive whole milliseconds', () => {
  expect(() => connectionOptions({ lockTimeoutMs: 0 })).toThrow(/lockTimeoutMs must be a positive integer/);
  expect(() => connectionOptions({ lockTimeoutMs: 10, statementTimeoutMs: 1.5 })).toThrow(
    /statementTimeoutMs/,
  );
});
