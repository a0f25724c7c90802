import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoHarness, OPERATOR_TOKEN, seatsOf, startHarness } from './support/demo-harness.js';
import { prepareLeftover } from './support/leftovers.js';
import { expressRoutes, OpenApiContract } from './support/openapi-contract.js';

// Every route's real answers, success and error alike, checked against the OpenAPI document the server serves
// (status documented, body valid against the documented schema).
let h: DemoHarness;
let contract: OpenApiContract;
let alice: string;
const operator = { authorization: `Bearer ${OPERATOR_TOKEN}` };
const client = (n: number) => ({ 'x-forwarded-for': `192.0.2.${n}` });

beforeAll(async () => {
  h = await startHarness('openapi contract', {
    // Long enough for any booking of a loaded machine, short enough to provoke the 202 below.
    BOOKING_ANSWER_MS: '4000',
    LOCK_TIMEOUT_MS: '3000',
    SIGN_UPS_PER_CLIENT: '3',
    SIGN_IN_ATTEMPTS_PER_ACCOUNT: '3',
    BODY_LIMIT_BYTES: '1024',
    TOP_UP_CENTS_PER_DAY: '5000',
  });
  const served = await h.request('GET', '/api/openapi.json');
  contract = new OpenApiContract(served.body);
  contract.check('get', '/api/openapi.json', served);
  alice = await h.signIn(1);
});
afterAll(() => h?.close());

/** Sends a request and checks its answer against the document; returns the answer. */
async function call(
  method: string,
  template: string,
  path: string,
  options: Parameters<DemoHarness['request']>[2] = {},
) {
  const answer = await h.request(method.toUpperCase(), path, options);
  contract.check(method, template, answer);
  return answer;
}

describe('the document', () => {
  it('is OpenAPI 3.1 and describes every route the app has', () => {
    expect(contract.document.openapi).toBe('3.1.0');
    // The web UI's catch-all and the docs page's own script are not API.
    const routes = expressRoutes(h.api.app).filter((r) => !r.includes('/^') && r !== 'get /api/docs/init.js');
    expect(routes.filter((r) => !contract.operations().includes(r))).toEqual([]);
  });

  it('is readable as a page, with its assets served by the app (no CDN)', async () => {
    const page = await call('get', '/api/docs', '/api/docs');
    expect(page.body).toContain('/api/docs/assets/swagger-ui-bundle.js');
    expect(page.body).not.toMatch(/https?:\/\//);
    const script = await fetch(`${h.api.url}/api/docs/assets/swagger-ui-bundle.js`);
    expect(script.status).toBe(200);
  });
});

describe('public routes', () => {
  it('health, screenings, seat maps and the read model', async () => {
    await call('get', '/healthz', '/healthz');
    await call('get', '/api/screenings', '/api/screenings');
    await call('get', '/api/screenings/{screeningId}', '/api/screenings/1');
    expect((await call('get', '/api/screenings/{screeningId}', '/api/screenings/99999')).status).toBe(404);
    expect((await call('get', '/api/screenings/{screeningId}', '/api/screenings/x')).status).toBe(400);
    await call('get', '/api/read-model/screenings/{screeningId}', '/api/read-model/screenings/1');
    expect(
      (await call('get', '/api/read-model/screenings/{screeningId}', '/api/read-model/screenings/99999'))
        .status,
    ).toBe(404);
  });
});

describe('accounts and sessions', () => {
  it('sign-up: created, taken, invalid, malformed, too large, foreign origin, limited', async () => {
    const account = { email: 'ivy@example.org', password: 'ivys-long-password', name: 'Ivy' };
    const up = (body: unknown, headers = client(1)) =>
      call('post', '/api/accounts', '/api/accounts', { body, headers });
    expect((await up(account)).status).toBe(201);
    expect((await up({ ...account, name: 'Ivy Two' })).body.error.code).toBe('email-taken');
    expect((await up({ ...account, email: 'ivy2@example.org' })).body.error.code).toBe('name-taken');
    expect((await up({ ...account, password: 'short' }, client(2))).status).toBe(400);
    const malformed = await call('post', '/api/accounts', '/api/accounts', {
      rawBody: '{"email":',
      headers: client(2),
    });
    expect(malformed.body.error.code).toBe('malformed-json');
    const large = await call('post', '/api/accounts', '/api/accounts', {
      body: { ...account, name: 'x'.repeat(2000) },
      headers: client(2),
    });
    expect(large.status).toBe(413);
    const charset = await call('post', '/api/accounts', '/api/accounts', {
      rawBody: '{}',
      headers: { ...client(2), 'content-type': 'application/json; charset=latin-9' },
    });
    expect(charset.status).toBe(415);
    const foreign = await call('post', '/api/accounts', '/api/accounts', {
      body: account,
      headers: { ...client(2), origin: 'https://elsewhere.example' },
    });
    expect(foreign.body.error.code).toBe('origin-not-allowed');
    // Client 1 has used its three sign-ups (the refused ones count too).
    const limited = await up({ ...account, email: 'ivy3@example.org', name: 'Ivy Three' });
    expect(limited.status).toBe(429);
  });

  it('sign-in, the session, sign-out: each answer and each refusal', async () => {
    const account = { email: 'jay@example.org', password: 'jays-long-password' };
    await call('post', '/api/accounts', '/api/accounts', {
      body: { ...account, name: 'Jay' },
      headers: client(3),
    });
    const signIn = await call('post', '/api/session', '/api/session', { body: account, headers: client(3) });
    expect(signIn.status).toBe(201);
    const token = signIn.body.token as string;
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    expect((await call('post', '/api/session', '/api/session', { body: { email: 'x' } })).status).toBe(400);
    const wrong = { ...account, password: 'not-jays-password' };
    expect((await call('post', '/api/session', '/api/session', { body: wrong })).status).toBe(401);
    expect((await call('post', '/api/session', '/api/session', { body: wrong })).status).toBe(401);
    // The fourth attempt for this account (limit 3 per 15 minutes).
    expect((await call('post', '/api/session', '/api/session', { body: account })).status).toBe(429);

    expect((await call('get', '/api/session', '/api/session', { token })).status).toBe(200);
    expect((await call('get', '/api/session', '/api/session')).status).toBe(401);
    expect(
      (await call('delete', '/api/session', '/api/session', { headers: { cookie } })).body.error.code,
    ).toBe('csrf-token-invalid');
    expect((await call('delete', '/api/session', '/api/session', { token })).status).toBe(204);
    expect((await call('delete', '/api/session', '/api/session', { token })).body.error.code).toBe(
      'session-revoked',
    );
  });
});

describe('customer routes', () => {
  it('me and top-up: answers, invalid, cap, daily limit', async () => {
    expect((await call('get', '/api/me', '/api/me', { token: alice })).status).toBe(200);
    expect((await call('get', '/api/me', '/api/me', { token: 'forged' })).status).toBe(401);
    const up = await call('post', '/api/accounts', '/api/accounts', {
      body: { email: 'kim@example.org', password: 'kims-long-password', name: 'Kim' },
      headers: client(4),
    });
    const kim = up.body.token as string;
    const topUp = (amountCents: unknown) =>
      call('post', '/api/me/top-up', '/api/me/top-up', { token: kim, body: { amountCents } });
    expect((await topUp(5000)).status).toBe(201);
    expect((await topUp('lots')).status).toBe(400);
    expect((await topUp(100)).body.error.code).toBe('wallet-full');
    const [seat] = await seatsOf(h.dbs, 6, 1);
    expect((await h.book(kim, { screeningId: 6, seatIds: [seat!], mode: 'saga' })).status).toBe(201);
    expect((await topUp(100)).body.error.code).toBe('top-up-limit');
  });

  it('bookings: confirmed, replayed, refused, and every error', async () => {
    const book = (body: unknown, key = randomUUID(), token = alice) =>
      call('post', '/api/bookings', '/api/bookings', { token, key, body });
    const [s1, s2] = await seatsOf(h.dbs, 1, 2);
    const request = { screeningId: 1, seatIds: [s1!], mode: '2pc' };
    const key = randomUUID();
    const confirmed = await book(request, key);
    expect(confirmed.status).toBe(201);
    expect((await book(request, key)).status).toBe(200);
    expect((await book({ ...request, seatIds: [s2] }, key)).body.error.code).toBe('idempotency-key-reused');
    const refused = await book(request);
    expect(refused.status).toBe(409);
    expect(refused.body.booking).toMatchObject({ status: 'rejected', reason: 'seat-taken' });
    const noKey = await call('post', '/api/bookings', '/api/bookings', { token: alice, body: request });
    expect(noKey.body.error.code).toBe('invalid-request');
    expect((await book({ ...request, seatIds: [] })).status).toBe(400);
    expect((await book({ ...request, screeningId: 99999 })).status).toBe(404);
    expect((await book({ ...request, seatIds: [999_999] })).body.error.code).toBe('seat-not-in-room');
    expect((await call('post', '/api/bookings', '/api/bookings', { key, body: request })).status).toBe(401);
    await h.dbs.seats.query(
      "UPDATE cinema.screenings SET starts_at = now() - interval '1 hour' WHERE id = 6",
    );
    expect(
      (await book({ ...request, screeningId: 6, seatIds: (await seatsOf(h.dbs, 6, 2)).slice(1) })).body.error
        .code,
    ).toBe('screening-started');
    // The limit's window is the clock minute: this one and the next are full, whichever the request falls in.
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    await h.dbs.seats.query(
      `INSERT INTO cinema.rate_limits (key, window_start, hits)
       SELECT 'bookings:1', to_timestamp(w / 1000.0), 1000000 FROM unnest($1::bigint[]) w
       ON CONFLICT (key, window_start) DO UPDATE SET hits = 1000000`,
      [[minute, minute + 60_000]],
    );
    const limited = await book({ ...request, seatIds: [s2] });
    expect(limited.status).toBe(429);
    await h.dbs.seats.query("DELETE FROM cinema.rate_limits WHERE key = 'bookings:1'");

    const id = confirmed.body.booking.id as string;
    const other = randomUUID();
    await call('get', '/api/bookings', '/api/bookings', { token: alice });
    await call('get', '/api/bookings/{bookingId}', `/api/bookings/${id}`, { token: alice });
    expect(
      (await call('get', '/api/bookings/{bookingId}', `/api/bookings/${other}`, { token: alice })).status,
    ).toBe(404);
    expect(
      (await call('get', '/api/bookings/{bookingId}', '/api/bookings/nope', { token: alice })).status,
    ).toBe(400);
    await call('get', '/api/bookings/{bookingId}/timeline', `/api/bookings/${id}/timeline`, { token: alice });
    expect(
      (
        await call('get', '/api/bookings/{bookingId}/timeline', `/api/bookings/${other}/timeline`, {
          token: alice,
        })
      ).status,
    ).toBe(404);
    for (const [bookingId, status] of [
      [id, 200],
      [other, 404],
    ] as const) {
      const path = `/api/bookings/${bookingId}/waterfall`;
      expect((await call('get', '/api/bookings/{bookingId}/waterfall', path, { token: alice })).status).toBe(
        status,
      );
    }
    const cancel = (bookingId: string) =>
      call('post', '/api/bookings/{bookingId}/cancel', `/api/bookings/${bookingId}/cancel`, { token: alice });
    expect((await cancel(id)).body.booking.status).toBe('cancelled');
    expect((await cancel(refused.body.booking.id)).body.error.code).toBe('not-cancellable');
    expect((await cancel(other)).status).toBe(404);
  });

  it('bookings: still running when the answer is due (202), then settled', async () => {
    // The customer's wallet is held by a leftover prepared transaction: the saga's charge waits out its lock
    // timeouts and retries, longer than the request waits for an answer (BOOKING_ANSWER_MS).
    const wallet = await prepareLeftover(
      h.dbs.payments,
      'SELECT 1 FROM cinema.customers WHERE id = 1 FOR UPDATE',
    );
    const [seat] = await seatsOf(h.dbs, 2, 1);
    let pending: { status: number; body: { booking: { id: string } } };
    try {
      pending = await call('post', '/api/bookings', '/api/bookings', {
        token: alice,
        key: randomUUID(),
        body: { screeningId: 2, seatIds: [seat!], mode: 'saga' },
      });
    } finally {
      await wallet.rollback();
    }
    expect(pending.status).toBe(202);
    const id = pending.body.booking.id;
    await expect
      .poll(async () => (await h.api.service.get(id)).status, { timeout: 30_000 })
      .not.toBe('pending');
  });
});

describe('operator routes', () => {
  it('transactions and metrics: with the token, without, with a wrong one', async () => {
    for (const [template, path] of [
      ['/api/ops/transactions', '/api/ops/transactions?limit=20'],
      ['/metrics', '/metrics'],
    ] as const) {
      expect((await call('get', template, path, { headers: operator })).status).toBe(200);
      expect((await call('get', template, path)).status).toBe(401);
      expect((await call('get', template, path, { token: alice })).status).toBe(403);
    }
  });
});

describe('coverage', () => {
  it('every operation was called, and answered with each of its statuses the tests can provoke', () => {
    const called = new Set([...contract.seen].map((s) => s.split(' ').slice(0, 2).join(' ')));
    expect(contract.operations().filter((op) => !called.has(op))).toEqual([]);
  });
});
