import type { Statement } from './statement.js';

// All SQL of sessions (seats database). Tokens are looked up by their SHA-256; the token itself is never stored.

export const insertSession = (
  tokenHash: Buffer,
  customerId: number,
  csrfToken: string,
  ttlSeconds: number,
): Statement => ({
  text: `INSERT INTO cinema.sessions (token_hash, customer_id, csrf_token, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))
         RETURNING expires_at AS "expiresAt"`,
  values: [tokenHash, customerId, csrfToken, ttlSeconds],
});

/** A session by its token's hash, with whether it is expired by the database's clock (one clock for all instances). */
export const sessionByHash = (tokenHash: Buffer): Statement => ({
  text: `SELECT customer_id AS "customerId", csrf_token AS "csrfToken", expires_at AS "expiresAt",
                revoked_at IS NOT NULL AS revoked, expires_at <= now() AS expired
           FROM cinema.sessions WHERE token_hash = $1`,
  values: [tokenHash],
});

export const revokeSession = (tokenHash: Buffer): Statement => ({
  text: `UPDATE cinema.sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL`,
  values: [tokenHash],
});

/** A customer's sessions that ended over a day ago: deleted at each sign-in, so the table stays small. */
export const pruneSessions = (customerId: number): Statement => ({
  text: `DELETE FROM cinema.sessions
          WHERE customer_id = $1 AND least(expires_at, coalesce(revoked_at, expires_at)) < now() - interval '1 day'`,
  values: [customerId],
});
