import { describe, expect, it } from 'vitest';
import { isRetryablePostgresError, retryablePostgresCodes } from '../../src/db/postgres-errors.js';
import { isConnectionError } from '../../src/db/queryable.js';

// One table of SQLSTATEs after which the session is gone: a lost session is always retryable, a transient
// conflict is retryable without the connection being lost, a constraint violation is neither.
describe('SQLSTATE classification', () => {
  const cases: [code: string, sessionLost: boolean, retryable: boolean][] = [
    ['08006', true, true], // connection failure
    ['57P01', true, true], // admin shutdown
    ['57P02', true, true], // crash shutdown
    ['57P03', true, true], // cannot connect now
    ['25P03', true, true], // idle-in-transaction session timeout
    ['RESPONSE_TIMEOUT', true, true], // txkit's client-side deadline
    ['40001', false, true], // serialization failure
    ['40P01', false, true], // deadlock
    ['55P03', false, true], // lock not available
    ['53300', false, true], // too many connections
    ['23505', false, false], // unique violation
    ['57014', false, false], // query canceled (statement timeout)
  ];
  it.each(cases)('%s: session lost %s, retryable %s', (code, sessionLost, retryable) => {
    const error = Object.assign(new Error(code), { code });
    expect(isConnectionError(error)).toBe(sessionLost);
    expect(isRetryablePostgresError(error)).toBe(retryable);
  });

  it('lists every code that loses the session among the retryable ones', () => {
    expect(retryablePostgresCodes).toEqual(
      expect.arrayContaining(['08*', '57P01', '57P02', '57P03', '25P03']),
    );
  });
});
