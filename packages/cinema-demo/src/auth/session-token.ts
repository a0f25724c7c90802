import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a session token says: who, and until when (epoch seconds). */
export interface Session {
  customerId: number;
  expiresAt: number;
}

function sign(payload: string, secret: string): Buffer {
  return createHmac('sha256', secret).update(payload).digest();
}

/**
 * Issues a signed session token `<payload>.<hmac>` (both base64url). Stateless, so every API instance behind
 * the proxy accepts it; the expiry is inside the signed part.
 *
 * @example
 * const token = issueSessionToken({ customerId: 1, expiresAt: now + 3600 }, secret);
 */
export function issueSessionToken(session: Session, secret: string): string {
  const payload = Buffer.from(JSON.stringify({ sub: session.customerId, exp: session.expiresAt })).toString(
    'base64url',
  );
  return `${payload}.${sign(payload, secret).toString('base64url')}`;
}

/** Why a token was refused. */
export type SessionProblem = 'malformed' | 'bad-signature' | 'expired';

/**
 * Verifies a token's signature (in constant time) and expiry.
 *
 * @example
 * const result = verifySessionToken(token, secret, Date.now() / 1000);
 * if ('session' in result) use(result.session.customerId);
 */
export function verifySessionToken(
  token: string,
  secret: string,
  nowSeconds: number,
): { session: Session } | { problem: SessionProblem } {
  const parts = token.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return { problem: 'malformed' };
  const [payload, signature] = parts as [string, string];
  const expected = sign(payload, secret);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { problem: 'bad-signature' };
  let claims: { sub?: unknown; exp?: unknown };
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { problem: 'malformed' };
  }
  if (!Number.isSafeInteger(claims.sub) || typeof claims.exp !== 'number') return { problem: 'malformed' };
  if (claims.exp <= nowSeconds) return { problem: 'expired' };
  return { session: { customerId: claims.sub as number, expiresAt: claims.exp } };
}

/** Compares two secrets in constant time (operator token checks). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHmac('sha256', 'compare').update(given).digest();
  const b = createHmac('sha256', 'compare').update(expected).digest();
  return timingSafeEqual(a, b);
}
