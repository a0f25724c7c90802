import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteLiteral } from '../../src/db/inline-statement.js';
import { ConfigurationError } from '../../src/errors.js';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';
import {
  assertValidName,
  formatGid,
  gidPrefix,
  isTransactionId,
  newTransactionId,
  parseGid,
} from '../../src/two-phase/gid.js';

describe('gid format', () => {
  it('round-trips and carries the coordinator id, transaction id and participant', () => {
    const transactionId = newTransactionId();
    const gid = formatGid({ coordinatorId: 'api-1', transactionId, participant: 'seats' });
    expect(gid).toBe(`tx:api-1:${transactionId}:seats`);
    expect(gid.startsWith(gidPrefix('api-1'))).toBe(true);
    expect(parseGid(gid)).toEqual({ coordinatorId: 'api-1', transactionId, participant: 'seats' });
  });

  it('stays under 200 bytes at the longest names', () => {
    const gid = formatGid({
      coordinatorId: 'c'.repeat(40),
      transactionId: newTransactionId(),
      participant: 'p'.repeat(40),
    });
    expect(Buffer.byteLength(gid)).toBeLessThan(200);
  });

  it('makes distinct transaction ids of the documented shape, across refills of the entropy buffer', () => {
    const ids = Array.from({ length: 10_000 }, newTransactionId);
    expect(new Set(ids).size).toBe(10_000);
    for (const id of ids) expect(isTransactionId(id)).toBe(true);
  });

  it.each(['', 'x'.repeat(41), "a'b", 'a:b', 'a b', 'é', 'a\\b', "x'; ROLLBACK PREPARED 'y"])(
    'refuses the name %j',
    (name) => {
      expect(() => assertValidName('participant name', name)).toThrow(ConfigurationError);
      expect(() =>
        formatGid({ coordinatorId: name, transactionId: newTransactionId(), participant: 'ok' }),
      ).toThrow(ConfigurationError);
    },
  );

  it.each([
    'tx:api-1:short:seats',
    'tx:api-1:AAAAAAAAAAAAAAAAAAAAAA:seats:extra',
    'tx:api 1:AAAAAAAAAAAAAAAAAAAAAA:seats',
    'xa:api-1:AAAAAAAAAAAAAAAAAAAAAA:seats',
    "tx:api-1:AAAAAAAAAAAAAAAAAAAAAA:se'ats",
    'something else entirely',
  ])('parses nothing out of the foreign gid %j', (gid) => {
    expect(parseGid(gid)).toBeUndefined();
  });
});

describe('quoteLiteral against PostgreSQL', () => {
  let dbs: TestDatabases;
  beforeAll(async () => {
    dbs = await createTestDatabases(testCluster(), '2pc gid literal');
  });
  afterAll(() => dbs.drop());

  it.each(['on', 'off'])('returns the exact string with standard_conforming_strings=%s', async (scs) => {
    const client = await dbs.on('a').pool.connect();
    try {
      await client.query(`SET standard_conforming_strings = ${scs}`);
      for (const value of ["it's", "\\'; DROP TABLE x; --", 'back\\slash', "''", 'plain']) {
        const { rows } = await client.query(`SELECT ${quoteLiteral(value)}::text AS v`);
        expect(rows[0].v).toBe(value);
      }
    } finally {
      await client.query('RESET standard_conforming_strings');
      client.release();
    }
  });

  it('refuses NUL', () => {
    expect(() => quoteLiteral('a\0b')).toThrow(ConfigurationError);
  });
});
