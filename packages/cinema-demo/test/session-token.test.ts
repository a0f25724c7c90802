import { expect, it } from 'vitest';
import { issueSessionToken, verifySessionToken } from '../src/auth/session-token.js';

const secret = 'a-secret-of-at-least-thirty-two-characters';

it('round-trips a session and refuses other secrets, tampering and expiry', () => {
  const token = issueSessionToken({ customerId: 7, expiresAt: 2_000 }, secret);
  expect(verifySessionToken(token, secret, 1_000)).toEqual({ session: { customerId: 7, expiresAt: 2_000 } });
  expect(verifySessionToken(token, `${secret}x`, 1_000)).toEqual({ problem: 'bad-signature' });
  expect(verifySessionToken(token, secret, 2_000)).toEqual({ problem: 'expired' });
  expect(verifySessionToken(`${token}x`, secret, 1_000)).toEqual({ problem: 'bad-signature' });
  expect(verifySessionToken('a.b.c', secret, 1_000)).toEqual({ problem: 'malformed' });
});
