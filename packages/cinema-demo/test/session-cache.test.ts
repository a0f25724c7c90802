import { pino } from 'pino';
import { InProcessBus } from 'txkit/outbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionCache } from '../src/auth/session-cache.js';
import { type ApiRuntime, startApi } from '../src/server/api-runtime.js';
import { type DemoHarness, startHarness } from './support/demo-harness.js';

const session = (expiresInMs: number, now: number) => ({
  customerId: 1,
  csrfToken: 'csrf',
  expiresAt: new Date(now + expiresInMs),
});

describe('SessionCache', () => {
  it('keeps a session for ttlMs, never past its expiry, until deleted', () => {
    let now = 1_000_000;
    const cache = new SessionCache({ ttlMs: 5_000, now: () => now });
    cache.set('a', session(60_000, now));
    cache.set('b', session(2_000, now));
    cache.set('c', session(60_000, now));
    expect(cache.get('a')?.customerId).toBe(1);
    cache.delete('c');
    expect(cache.get('c')).toBeUndefined();
    now += 2_000;
    expect(cache.get('b'), 'past the session expiry').toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    now += 3_000;
    expect(cache.get('a'), 'past ttlMs').toBeUndefined();
  });

  it('holds at most maxEntries, dropping the oldest', () => {
    const now = Date.now();
    const cache = new SessionCache({ ttlMs: 5_000, maxEntries: 2 });
    cache.set('a', session(60_000, now));
    cache.set('b', session(60_000, now));
    cache.set('c', session(60_000, now));
    expect([cache.get('a'), cache.get('b'), cache.get('c')].map(Boolean)).toEqual([false, true, true]);
  });

  it('refuses a TTL that is not a positive integer', () => {
    expect(() => new SessionCache({ ttlMs: 0 })).toThrow(/ttlMs must be a positive integer/);
  });
});

describe('two instances sharing a bus', () => {
  const bus = new InProcessBus();
  let h: DemoHarness;
  let other: ApiRuntime;

  beforeAll(async () => {
    // A long cache: a token refused on the other instance shows the bus's message, not the TTL, removed it.
    h = await startHarness('session cache', { SESSION_CACHE_MS: '60000' }, { bus, withReadModel: false });
    other = await startApi({
      config: { ...h.config, INSTANCE_ID: 'other-instance' },
      bus,
      logger: pino({ level: 'silent' }),
      withReadModel: false,
      dbs: h.dbs,
      faults: h.faults,
      sweepIntervalMs: false,
    });
  });
  afterAll(async () => {
    await other?.close();
    await h?.close();
  });

  const me = (url: string, token: string) =>
    fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } });

  it("a cached session is answered from memory: a revocation behind the API's back is not seen until the TTL", async () => {
    const token = await h.signIn(1);
    expect((await me(other.url, token)).status).toBe(200);
    // Revoked in the table, not through sign-out: no instance is told, so the cached entry answers.
    await h.dbs.seats.query('UPDATE cinema.sessions SET revoked_at = now() WHERE revoked_at IS NULL');
    expect((await me(other.url, token)).status).toBe(200);
    const uncached = await h.signIn(3);
    await h.dbs.seats.query('UPDATE cinema.sessions SET revoked_at = now() WHERE revoked_at IS NULL');
    expect((await me(other.url, uncached)).status, 'never cached: read from the table').toBe(401);
  });

  it('sign-out refuses the token at once on the instance signing out, and on the other once the bus told it', async () => {
    const token = await h.signIn(2);
    // Both instances have the session cached.
    expect((await me(h.api.url, token)).status).toBe(200);
    expect((await me(other.url, token)).status).toBe(200);
    expect((await h.request('DELETE', '/api/session', { token })).status).toBe(204);
    const here = await me(h.api.url, token);
    expect(here.status).toBe(401);
    expect(((await here.json()) as { error: { code: string } }).error.code).toBe('session-revoked');
    const deadline = Date.now() + 5_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await me(other.url, token)).status;
      if (status === 401) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status, 'refused on the other instance well before the 60 s cache entry ran out').toBe(401);
  });
});
