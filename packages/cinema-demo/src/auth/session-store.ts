import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import * as sessionsSql from '../db/sessions-sql.js';
import { rows } from '../db/statement.js';

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
 * table. Every instance sees every session, sign-out revokes at once, and expiry is the database's clock.
 *
 * @example
 * const store = new SessionStore(dbs.seats, 3600);
 * const { token } = await store.create(customerId);
 * const found = await store.find(token); // { session } or { problem: 'expired' | 'revoked' | 'invalid' }
 */
export class SessionStore {
  constructor(
    private readonly seats: pg.Pool,
    readonly ttlSeconds: number,
  ) {}

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
    const [row] = await rows<SessionInfo & { revoked: boolean; expired: boolean }>(
      this.seats,
      sessionsSql.sessionByHash(tokenHash(token)),
    );
    if (!row) return { problem: 'invalid' };
    if (row.revoked) return { problem: 'revoked' };
    if (row.expired) return { problem: 'expired' };
    return { session: { customerId: row.customerId, csrfToken: row.csrfToken, expiresAt: row.expiresAt } };
  }

  /** Ends a session (sign-out); a token already revoked or unknown is left as it is. */
  async revoke(token: string): Promise<void> {
    await rows(this.seats, sessionsSql.revokeSession(tokenHash(token)));
  }
}
