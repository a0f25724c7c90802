import { randomBytes } from 'node:crypto';
import type { TestDatabases } from 'txkit/testing';
import { expect } from 'vitest';
import { setDemoPasswords } from '../../src/auth/demo-passwords.js';
import { moneyInSystem } from './booking-audit.js';
import { DEMO_PASSWORDS, demoCredentials } from './demo-harness.js';

// What the tests that kill API processes share: the environment of short leases and timeouts that lets a dead
// instance's work be taken over within seconds, customers signed in over HTTP, and a booking request.

/** Timings of a crash test: the takeover of a dead instance's work follows from them. */
export interface CrashTimings {
  leaseMs: number;
  prepareTimeoutMs: number;
  staleAfterMs: number;
}

/** The API processes' environment on the test databases (seats on a, payments on b, tickets on c). */
export function crashTestEnv(testDbs: TestDatabases, t: CrashTimings): Record<string, string> {
  return {
    SEATS_DATABASE_URL: testDbs.on('a').connectionString,
    PAYMENTS_DATABASE_URL: testDbs.on('b').connectionString,
    TICKETS_DATABASE_URL: testDbs.on('c').connectionString,
    OPERATOR_TOKEN: randomBytes(16).toString('hex'),
    BOOKINGS_PER_MINUTE: '100000',
    SIGN_IN_ATTEMPTS_PER_CLIENT: '10000',
    LOG_LEVEL: 'warn',
    LOCK_TIMEOUT_MS: '500',
    PREPARE_TIMEOUT_MS: String(t.prepareTimeoutMs),
    TXKIT_LEASE_MS: String(t.leaseMs),
    RECOVERY_INTERVAL_MS: '300',
    STALE_BOOKING_AFTER_MS: String(t.staleAfterMs),
    SWEEP_INTERVAL_MS: '500',
    PAYMENT_DECLINE_RATE: '0.1',
  };
}

/** How long everything a dead instance left takes to settle, with plenty of room for a loaded machine. */
export function settleMs(t: CrashTimings): number {
  return t.leaseMs + t.prepareTimeoutMs + t.staleAfterMs + 30_000;
}

/** Signs seeded customers in at `baseUrl` with email and password; their bearer tokens, in order. */
export function signInAll(baseUrl: string, customerIds: number[]): Promise<string[]> {
  return Promise.all(
    customerIds.map(async (customerId) => {
      const res = await fetch(`${baseUrl}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(demoCredentials(customerId)),
        signal: AbortSignal.timeout(30_000),
      });
      expect(res.status).toBe(201);
      return ((await res.json()) as { token: string }).token;
    }),
  );
}

/** `POST /api/bookings` with a bearer token and an idempotency key, bounded to 30 s. */
export function postBooking(baseUrl: string, token: string, key: string, body: object): Promise<Response> {
  return fetch(`${baseUrl}/api/bookings`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      'idempotency-key': key,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
}

/**
 * What a crash test books against: the seeded customers given their passwords (as `npm start` does; a
 * deployment's have none), the money in the system before, and the first `seatCount` seats of screening 1 — by
 * default all 150 of its room: a crash test waits under load for an instance holding prepared branches, and a
 * refused booking (seat taken) never prepares, so on a fast machine 40 seats sold out before that moment came
 * (the four seeded customers can afford 166 seats at screening 1's price).
 */
export async function crashTestStage(testDbs: TestDatabases, seatCount = 150) {
  await setDemoPasswords(testDbs.on('b').pool, DEMO_PASSWORDS);
  const moneyBefore = await moneyInSystem(testDbs.on('b').pool);
  const screeningId = 1;
  const { rows } = await testDbs
    .on('a')
    .pool.query<{ seat_id: number }>(
      'SELECT seat_id FROM cinema.screening_seats WHERE screening_id = $1 ORDER BY seat_id LIMIT $2',
      [screeningId, seatCount],
    );
  return { moneyBefore, screeningId, seatIds: rows.map((r) => r.seat_id) };
}
