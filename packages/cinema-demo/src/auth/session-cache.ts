import type { SessionInfo } from './session-store.js';

/**
 * Live sessions this instance looked up lately, by token hash (hex), each kept at most `ttlMs` and never past the
 * session's own expiry: a request with a cached token costs the seats database no statement. A sign-out drops the
 * entry at once on the instance that signs out and, through the bus, on the others (`session-revocations.ts`);
 * `ttlMs` bounds how long a revocation whose message was lost still lets the token through here. Bounded to
 * `maxEntries`: when full, the oldest entry goes (insertion order; an entry lives seconds, so recency adds little).
 *
 * @example
 * const cache = new SessionCache({ ttlMs: 5_000 });
 * cache.set(hash, session);
 * cache.get(hash); // the session, until 5 s passed, the session expired, or cache.delete(hash)
 */
export class SessionCache {
  readonly ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { session: SessionInfo; until: number }>();

  constructor(o: { ttlMs: number; maxEntries?: number; now?: () => number }) {
    if (!Number.isSafeInteger(o.ttlMs) || o.ttlMs <= 0) {
      throw new RangeError(`ttlMs must be a positive integer of milliseconds, not ${o.ttlMs}`);
    }
    this.ttlMs = o.ttlMs;
    this.#maxEntries = o.maxEntries ?? 10_000;
    this.#now = o.now ?? Date.now;
  }

  /** The cached live session of a token hash, or undefined (never cached, dropped, or past its time). */
  get(tokenHash: string): SessionInfo | undefined {
    const entry = this.#entries.get(tokenHash);
    if (!entry) return undefined;
    if (entry.until > this.#now()) return entry.session;
    this.#entries.delete(tokenHash);
    return undefined;
  }

  /** Caches a live session for `ttlMs`, or until it expires if that is sooner. */
  set(tokenHash: string, session: SessionInfo): void {
    this.#entries.delete(tokenHash);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    const until = Math.min(this.#now() + this.ttlMs, session.expiresAt.getTime());
    this.#entries.set(tokenHash, { session, until });
  }

  /** Drops a token hash (its session was revoked). */
  delete(tokenHash: string): void {
    this.#entries.delete(tokenHash);
  }
}
