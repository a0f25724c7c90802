import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueSessionToken } from '../src/auth/session-token.js';
import {
  type DemoHarness,
  OPERATOR_TOKEN,
  SESSION_SECRET,
  seatsOf,
  startHarness,
  writeCounts,
} from './support/demo-harness.js';

let h: DemoHarness;
let alice: string;
let bob: string;
let aliceBooking: string;

beforeAll(async () => {
  h = await startHarness('auth', { BOOKINGS_PER_MINUTE: '3' });
  alice = await h.signIn(1);
  bob = await h.signIn(2);
  const [seat] = await seatsOf(h.dbs, 1, 1);
  const res = await h.book(alice, { screeningId: 1, seatIds: [seat!], mode: 'saga' });
  expect(res.body.booking.status).toBe('confirmed');
  aliceBooking = res.body.booking.id;
});
afterAll(() => h?.close());

describe('two customers', () => {
  it('B cannot read A’s booking (404, as if it did not exist)', async () => {
    const res = await h.request('GET', `/api/bookings/${aliceBooking}`, { token: bob });
    expect(res.status).toBe(404);
    expect((await h.request('GET', `/api/bookings/${aliceBooking}`, { token: alice })).status).toBe(200);
  });

  it('B cannot cancel A’s booking, and nothing is written', async () => {
    const before = await writeCounts(h.dbs);
    const res = await h.request('POST', `/api/bookings/${aliceBooking}/cancel`, { token: bob });
    expect(res.status).toBe(404);
    expect(await writeCounts(h.dbs)).toEqual(before);
    const { rows } = await h.dbs.seats.query('SELECT status FROM cinema.bookings WHERE id = $1', [
      aliceBooking,
    ]);
    expect(rows[0].status).toBe('confirmed');
  });

  it('B cannot book as A: a customerId in the body is refused', async () => {
    const before = await writeCounts(h.dbs);
    const [, seat] = await seatsOf(h.dbs, 1, 2);
    const res = await h.request('POST', '/api/bookings', {
      token: bob,
      key: randomUUID(),
      body: { screeningId: 1, seatIds: [seat], mode: 'saga', customerId: 1 },
    });
    expect(res.status).toBe(400);
    expect(await writeCounts(h.dbs)).toEqual(before);
  });

  it('each sees only their own bookings and wallet', async () => {
    const bobs = await h.request('GET', '/api/bookings', { token: bob });
    expect(bobs.body.bookings).toEqual([]);
    const alices = await h.request('GET', '/api/bookings', { token: alice });
    expect(alices.body.bookings.map((b: { id: string }) => b.id)).toEqual([aliceBooking]);
    const me = await h.request('GET', '/api/me', { token: bob });
    expect(me.body.customer).toMatchObject({ id: 2, name: 'Bob' });
    expect(me.body.payments).toEqual([]);
  });
});

describe('sessions', () => {
  it('are refused without a session, forged, tampered with or expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = issueSessionToken(
      { customerId: 1, expiresAt: now + 3600 },
      'not-the-server-secret-0123456789abcdef',
    );
    const expired = issueSessionToken({ customerId: 1, expiresAt: now - 1 }, SESSION_SECRET);
    const [payload, signature] = bob.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const tampered = `${Buffer.from(JSON.stringify({ ...claims, sub: 1 })).toString('base64url')}.${signature}`;
    const cases: [string | undefined, string][] = [
      [undefined, 'unauthenticated'],
      [forged, 'session-bad-signature'],
      [tampered, 'session-bad-signature'],
      [expired, 'session-expired'],
      ['garbage', 'session-malformed'],
    ];
    for (const [token, code] of cases) {
      const res = await h.request('GET', `/api/bookings/${aliceBooking}`, { token });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe(code);
    }
  });

  it('sign-in sets an HttpOnly, SameSite cookie that works on its own', async () => {
    const res = await fetch(`${h.api.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: 2 }),
    });
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    const me = await fetch(`${h.api.url}/api/me`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(((await me.json()) as { customer: { id: number } }).customer.id).toBe(2);
  });

  it('signs up a new customer by name, and refuses an unknown customer id', async () => {
    const res = await h.request('POST', '/api/session', { body: { name: 'Erin' } });
    expect(res.status).toBe(201);
    expect(res.body.customer.name).toBe('Erin');
    expect((await h.request('POST', '/api/session', { body: { customerId: 999 } })).status).toBe(404);
  });
});

describe('operator endpoints', () => {
  for (const path of ['/api/ops/transactions', '/metrics']) {
    it(`${path} refuses without the operator token, or with a customer's session`, async () => {
      expect((await h.request('GET', path)).status).toBe(401);
      expect((await h.request('GET', path, { token: alice })).status).toBe(403);
      expect(
        (await h.request('GET', path, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).status,
      ).toBe(200);
    });
  }

  it('metrics count bookings by mode and outcome', async () => {
    const res = await h.request('GET', '/metrics', {
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    expect(res.body).toContain('cinema_bookings_total{mode="saga",outcome="confirmed"} 1');
    expect(res.body).toContain('cinema_booking_duration_seconds_bucket');
    expect(res.body).toContain('cinema_in_doubt_transactions 0');
    expect(res.body).toContain('cinema_stuck_sagas 0');
  });
});

it('the per-customer booking limit answers 429 with Retry-After, and writes no booking', async () => {
  // The limit counts per minute of the API's clock (this process's): the four requests of one customer below
  // must fall in one minute. Should that minute end while they run, the count restarts, and they are made again
  // by a customer who has not booked yet (Carol, else Dave), on seats of their own.
  const minute = () => Math.floor(Date.now() / 60_000);
  const allSeats = await seatsOf(h.dbs, 3, 8);
  let limited = false;
  for (const [customerId, seats] of [
    [3, allSeats.slice(0, 4)],
    [4, allSeats.slice(4, 8)],
  ] as const) {
    const token = await h.signIn(customerId);
    const from = minute();
    const allowed: Awaited<ReturnType<DemoHarness['book']>>[] = [];
    for (const seat of seats.slice(0, 3)) {
      allowed.push(await h.book(token, { screeningId: 3, seatIds: [seat], mode: '2pc' }));
    }
    const before = await writeCounts(h.dbs);
    const res = await h.book(token, { screeningId: 3, seatIds: [seats[3]!], mode: '2pc' });
    if (minute() !== from) continue;
    for (const r of allowed) expect(r.status).toBe(201);
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('rate-limited');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await writeCounts(h.dbs)).toEqual(before);
    limited = true;
    break;
  }
  expect(limited, 'the clock minute ended during both attempts').toBe(true);
  // Another customer is not limited by those requests.
  const [, seat] = await seatsOf(h.dbs, 4, 2);
  expect((await h.book(bob, { screeningId: 4, seatIds: [seat!], mode: '2pc' })).status).toBe(201);
});
