import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import * as sessionsSql from '../db/sessions-sql.js';
import { rows } from '../db/statement.js';
import type { SessionCache } from './session-cache.js';

/** A session as the API uses it: who, until when, and the token the browser echoes against CSRF. */
export interface SessionInfo {
  customerId: number;
  csrfToken: string;
  expiresAt: Date;
}

/** Why a token was refused. */
export type SessionProblem = 'invalid' | 'expired' | 'revoked';

/** The SHA-256 of a token: what the sessions table keys on. */
function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * Server-side sessions in the seats database: an opaque random token (256 bits) for the client, its hash in the
 * table. Every instance sees every session, and expiry is the database's clock.
 *
 * With a {@link SessionCache}, a token looked up lately is answered from memory. Sign-out then revokes at once on
 * this instance and tells the others through `onRevoked` (the demo publishes it on its bus; they call
 * {@link SessionStore.forget}); an instance that missed the message lets the token through until its cache entry
 * runs out (`ttlMs`). Without a cache, every request reads the table and sign-out is immediate everywhere.
 *
 * @example
 * const store = new SessionStore(dbs.seats, 3600, { cache: new SessionCache({ ttlMs: 5_000 }), onRevoked: publish });
 * const { token } = await store.create(customerId);
 * const found = await store.find(token); // { session } or { problem: 'expired' | 'revoked' | 'invalid' }
 */
export class SessionStore {
  readonly #cache: SessionCache | undefined;
  readonly #onRevoked: (tokenHash: string) => void;

  constructor(
    private readonly seats: pg.Pool,
    readonly ttlSeconds: number,
    o: { cache?: SessionCache; onRevoked?: (tokenHash: string) => void } = {},
  ) {
    this.#cache = o.cache;
    this.#onRevoked = o.onRevoked ?? (() => {});
  }

  /** Starts a session for a customer (and drops their sessions that ended long ago). */
  async create(customerId: number): Promise<{ token: string; session: SessionInfo }> {
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(24).toString('base64url');
    await rows(this.seats, sessionsSql.pruneSessions(customerId));
    const [row] = await rows<{ expiresAt: Date }>(
      this.seats,
      sessionsSql.insertSession(tokenHash(token), customerId, csrfToken, this.ttlSeconds),
    );
    return { token, session: { customerId, csrfToken, expiresAt: row!.expiresAt } };
  }

  /** The live session of a token, or why there is none. */
  async find(token: string): Promise<{ session: SessionInfo } | { problem: SessionProblem }> {
    // Tokens are 43 base64url characters; anything else is not one of ours and costs no query.
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return { problem: 'invalid' };
    const hash = tokenHash(token);
    const key = hash.toString('hex');
    const cached = this.#cache?.get(key);
    if (cached) return { session: cached };
    const [row] = await rows<SessionInfo & { revoked: boolean; expired: boolean }>(
      this.seats,
      sessionsSql.sessionByHash(hash),
    );
    if (!row) return { problem: 'invalid' };
    if (row.revoked) return { problem: 'revoked' };
    if (row.expired) return { problem: 'expired' };
    const session = { customerId: row.customerId, csrfToken: row.csrfToken, expiresAt: row.expiresAt };
    this.#cache?.set(key, session);
    return { session };
  }

  /**
   * Ends a session (sign-out); a token already revoked or unknown is left as it is. Dropped from this instance's
   * cache at once, and announced to the others through `onRevoked` with the token's hash (hex).
   */
  async revoke(token: string): Promise<void> {
    const hash = tokenHash(token);
    await rows(this.seats, sessionsSql.revokeSession(hash));
    const key = hash.toString('hex');
    this.#cache?.delete(key);
    this.#onRevoked(key);
  }

  /** Drops a token hash (hex) from this instance's cache: another instance revoked its session. */
  forget(tokenHash: string): void {
    this.#cache?.delete(tokenHash);
  }
}
