import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moneyInSystem } from './support/booking-audit.js';
import {
  type DemoHarness,
  demoCredentials,
  OPERATOR_TOKEN,
  seatsOf,
  startHarness,
  writeCounts,
} from './support/demo-harness.js';

let h: DemoHarness;
let alice: string;
let bob: string;
let aliceBooking: string;

beforeAll(async () => {
  h = await startHarness('auth', {
    BOOKINGS_PER_MINUTE: '3',
    SIGN_IN_ATTEMPTS_PER_CLIENT: '20',
    SIGN_UPS_PER_CLIENT: '3',
  });
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
  it('are refused without a session, or with a forged, malformed, expired or revoked one', async () => {
    const expired = await h.signIn(3);
    await h.dbs.seats.query("UPDATE cinema.sessions SET expires_at = now() - interval '1 second'");
    const revoked = await h.signIn(3);
    expect((await h.request('DELETE', '/api/session', { token: revoked })).status).toBe(204);
    // Freshly signed in after the expiry above, so it is live; then the checks.
    alice = await h.signIn(1);
    bob = await h.signIn(2);
    const forged = randomBytes(32).toString('base64url');
    const cases: [string | undefined, string][] = [
      [undefined, 'unauthenticated'],
      [forged, 'session-invalid'],
      ['garbage', 'session-invalid'],
      [expired, 'session-expired'],
      [revoked, 'session-revoked'],
    ];
    for (const [token, code] of cases) {
      const res = await h.request('GET', `/api/bookings/${aliceBooking}`, { token });
      expect(res.status, code).toBe(401);
      expect(res.body.error.code).toBe(code);
    }
    expect((await h.request('GET', `/api/bookings/${aliceBooking}`, { token: alice })).status).toBe(200);
  });

  it('stores only a hash of the token, never the token itself', async () => {
    const { rows } = await h.dbs.seats.query(
      `SELECT count(*) FILTER (WHERE token_hash = sha256(convert_to($1, 'UTF8')))::int AS hashed,
              count(*) FILTER (WHERE position(convert_to($1, 'UTF8') IN token_hash) > 0
                                  OR position($1 IN csrf_token) > 0)::int AS plain
         FROM cinema.sessions`,
      [alice],
    );
    expect(rows[0]).toEqual({ hashed: 1, plain: 0 });
  });

  it('sign-in sets an HttpOnly, SameSite cookie; writes with it need the CSRF token', async () => {
    const res = await fetch(`${h.api.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(demoCredentials(2)),
    });
    const { csrfToken } = (await res.json()) as { csrfToken: string };
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).not.toMatch(/Secure/i); // served over plain http here; Secure behind TLS
    const cookie = setCookie.split(';')[0]!;
    const me = await h.request('GET', '/api/me', { headers: { cookie } });
    expect(me.body.customer.id).toBe(2);
    const session = await h.request('GET', '/api/session', { headers: { cookie } });
    expect(session.body.csrfToken).toBe(csrfToken);

    const before = await writeCounts(h.dbs);
    const [, seat] = await seatsOf(h.dbs, 2, 2);
    const booking = { screeningId: 2, seatIds: [seat], mode: 'saga' };
    for (const csrf of [undefined, 'not-the-token']) {
      const refused = await h.request('POST', '/api/bookings', {
        key: randomUUID(),
        body: booking,
        headers: { cookie, ...(csrf ? { 'x-csrf-token': csrf } : {}) },
      });
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('csrf-token-invalid');
    }
    expect(await writeCounts(h.dbs)).toEqual(before);
    const signOut = await h.request('DELETE', '/api/session', {
      headers: { cookie, 'x-csrf-token': csrfToken },
    });
    expect(signOut.status).toBe(204);
    expect((await h.request('GET', '/api/me', { headers: { cookie } })).body.error.code).toBe(
      'session-revoked',
    );
  });
});

describe('accounts', () => {
  const from = (n: number) => ({ 'x-forwarded-for': `203.0.113.${n}` });

  it('sign up with email and password, sign in with both; a wrong password is refused', async () => {
    const email = 'Erin@Example.org';
    const password = 'erin-has-a-long-password';
    const up = await h.request('POST', '/api/accounts', {
      body: { email, password, name: 'Erin' },
      headers: from(1),
    });
    expect(up.status).toBe(201);
    expect(up.body.customer.name).toBe('Erin');
    const { rows } = await h.dbs.payments.query(
      'SELECT a.email, a.password_hash, c.balance_cents FROM cinema.accounts a JOIN cinema.customers c ON c.id = a.customer_id WHERE c.name = $1',
      ['Erin'],
    );
    expect(rows[0].email).toBe('erin@example.org');
    expect(rows[0].password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(rows[0].password_hash).not.toContain(password);
    expect(Number(rows[0].balance_cents)).toBe(0);

    const signIn = await h.request('POST', '/api/session', {
      body: { email: 'erin@example.org', password },
      headers: from(1),
    });
    expect(signIn.status).toBe(201);
    expect((await h.request('GET', '/api/me', { token: signIn.body.token })).body.customer.name).toBe('Erin');
    const wrong = await h.request('POST', '/api/session', {
      body: { email, password: `${password}!` },
      headers: from(1),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual({
      error: { code: 'invalid-credentials', message: 'wrong email or password' },
    });
    const unknown = await h.request('POST', '/api/session', {
      body: { email: 'nobody@example.org', password },
      headers: from(1),
    });
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
  });

  it('refuses a taken email (any case), a taken name, a short password or a bad email, and writes nothing', async () => {
    const count = async () =>
      Number((await h.dbs.payments.query('SELECT count(*) AS n FROM cinema.accounts')).rows[0].n);
    const before = await count();
    const cases: [object, number, string][] = [
      [
        { email: 'ERIN@example.org', password: 'a-long-enough-password', name: 'Erin Two' },
        409,
        'email-taken',
      ],
      [{ email: 'erin2@example.org', password: 'a-long-enough-password', name: 'Erin' }, 409, 'name-taken'],
      [{ email: 'erin3@example.org', password: 'short', name: 'Erin Three' }, 400, 'invalid-request'],
      [
        { email: 'not-an-email', password: 'a-long-enough-password', name: 'Erin Four' },
        400,
        'invalid-request',
      ],
      [{ email: 'erin5@example.org', password: 'a-long-enough-password' }, 400, 'invalid-request'],
    ];
    for (const [body, status, code] of cases) {
      const res = await h.request('POST', '/api/accounts', { body, headers: from(2) });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error.code).toBe(code);
    }
    expect(await count()).toBe(before);
    const { rows } = await h.dbs.payments.query(
      "SELECT count(*)::int AS n FROM cinema.customers WHERE name LIKE 'Erin %'",
    );
    expect(rows[0].n).toBe(0);
  });

  it('an unknown email costs an argon2id verification, as a wrong password does', async () => {
    // Without the dummy hash an unknown email would answer in a database round trip (~1 ms), a wrong password
    // after argon2id (tens of ms): compare the fastest of a few of each.
    const time = async (email: string) => {
      const started = performance.now();
      const res = await h.request('POST', '/api/session', {
        body: { email, password: 'wrong-password-here' },
        headers: from(3),
      });
      expect(res.status).toBe(401);
      return performance.now() - started;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 4; i++) {
      known.push(await time(demoCredentials(4).email));
      unknown.push(await time(`nobody-${i}@example.org`));
    }
    expect(Math.min(...unknown)).toBeGreaterThan(Math.min(...known) / 3);
  });

  it('throttles sign-in per account (429 + Retry-After, even with the right password) and per client', async () => {
    const grace = { email: 'grace@example.org', password: 'graces-long-password' };
    const up = await h.request('POST', '/api/accounts', {
      body: { ...grace, name: 'Grace' },
      headers: from(9),
    });
    expect(up.status).toBe(201);
    const wrong = { email: grace.email, password: 'not-graces-password' };
    // The account limit is 10 per 15 minutes; attempts from several clients all count for it.
    for (let i = 0; i < 10; i++) {
      const res = await h.request('POST', '/api/session', { body: wrong, headers: from(10 + i) });
      expect(res.status).toBe(401);
    }
    const limited = await h.request('POST', '/api/session', { body: grace, headers: from(30) });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate-limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(900);

    // The client limit is 20 per 15 minutes: one client trying many accounts.
    let status = 0;
    for (let i = 0; i < 21; i++) {
      status = (
        await h.request('POST', '/api/session', {
          body: { email: `guess-${i}@example.org`, password: 'guess-password' },
          headers: from(40),
        })
      ).status;
      if (i < 20) expect(status).toBe(401);
    }
    expect(status).toBe(429);
    // Another client is not limited by that one.
    expect(
      (await h.request('POST', '/api/session', { body: demoCredentials(4), headers: from(41) })).status,
    ).toBe(201);
  });

  it('limits sign-ups per client', async () => {
    const signUp = (n: number) =>
      h.request('POST', '/api/accounts', {
        body: { email: `many-${n}@example.org`, password: 'a-long-enough-password', name: `Many ${n}` },
        headers: from(50),
      });
    for (let n = 0; n < 3; n++) expect((await signUp(n)).status).toBe(201);
    const res = await signUp(3);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBeTruthy();
  });
});

describe('demo top-up', () => {
  it('credits the wallet up to a cap and a daily allowance, recorded so money stays accounted for', async () => {
    const money = () => moneyInSystem(h.dbs.payments);
    const moneyBefore = await money();
    const up = await h.request('POST', '/api/accounts', {
      body: { email: 'frank@example.org', password: 'franks-long-password', name: 'Frank' },
      headers: { 'x-forwarded-for': '198.51.100.1' },
    });
    const token = up.body.token as string;
    const topUp = (amountCents: unknown) =>
      h.request('POST', '/api/me/top-up', { token, body: { amountCents } });

    const first = await topUp(10_000);
    expect(first.status).toBe(201);
    expect(first.body.topUp).toMatchObject({ amountCents: 10_000, balanceCents: 10_000 });
    expect((await topUp(45_000)).body.error.code).toBe('wallet-full');
    expect((await topUp(0)).status).toBe(400);
    expect((await topUp(40_000)).body.topUp.balanceCents).toBe(50_000);
    expect(await money()).toBe(moneyBefore);

    // Spend some, then the wallet has room but the day's allowance is used up.
    const [seat] = await seatsOf(h.dbs, 5, 1);
    expect((await h.book(token, { screeningId: 5, seatIds: [seat!], mode: '2pc' })).status).toBe(201);
    const before = await writeCounts(h.dbs);
    const limited = await topUp(1_000);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('top-up-limit');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(80_000);
    expect(await writeCounts(h.dbs)).toEqual(before);
    expect(await money()).toBe(moneyBefore);
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
