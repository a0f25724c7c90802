import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { DomainError } from '../domain-error.js';
import type { SessionInfo, SessionStore } from './session-store.js';

/** The session cookie's name. */
export const SESSION_COOKIE = 'cinema_session';

/** The header a cookie-authenticated state-changing request must carry (the session's CSRF token). */
export const CSRF_HEADER = 'x-csrf-token';

function cookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

function bearer(req: Request): string | undefined {
  const header = req.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

/** Compares two secrets in constant time (operator token, CSRF token). */
export function sameSecret(given: string, expected: string): boolean {
  // Through an HMAC, so that both sides have one length and the comparison leaks nothing about it.
  const a = createHmac('sha256', 'compare').update(given).digest();
  const b = createHmac('sha256', 'compare').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The signed-in customer of a request that went through {@link requireCustomer}. */
export function customerOf(req: Request): number {
  const id = req.res?.locals.customerId;
  if (typeof id !== 'number') throw new DomainError('unauthenticated', 'sign in first');
  return id;
}

/** The session (and its token) of a request that went through {@link requireCustomer}. */
export function sessionOf(req: Request): { token: string; session: SessionInfo } {
  const locals = req.res?.locals;
  if (!locals?.session) throw new DomainError('unauthenticated', 'sign in first');
  return { token: locals.sessionToken, session: locals.session };
}

const messages = {
  invalid: 'invalid session; sign in again',
  expired: 'session expired; sign in again',
  revoked: 'session ended (signed out); sign in again',
};

/**
 * Requires a live server-side session: the HttpOnly cookie from the browser, or `Authorization: Bearer <token>`
 * from programs. The customer is never taken from the request body.
 *
 * A browser sends the cookie by itself, so a state-changing request that came with the cookie must also carry
 * the session's CSRF token in `X-CSRF-Token` (a page of another site cannot read it). A bearer token is never
 * sent by itself, so it needs none.
 *
 * @example
 * app.use('/api/bookings', requireCustomer(sessions));
 */
export function requireCustomer(sessions: SessionStore): RequestHandler {
  return async (req, res, next) => {
    try {
      const fromHeader = bearer(req);
      const token = fromHeader ?? cookie(req, SESSION_COOKIE);
      if (!token) throw new DomainError('unauthenticated', 'sign in first');
      const found = await sessions.find(token);
      if ('problem' in found)
        throw new DomainError(`session-${found.problem}` as const, messages[found.problem]);
      const safe = req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS';
      if (!fromHeader && !safe) {
        const given = req.get(CSRF_HEADER);
        if (!given || !sameSecret(given, found.session.csrfToken))
          throw new DomainError(
            'csrf-token-invalid',
            `the ${CSRF_HEADER} header must carry the session's CSRF token`,
          );
      }
      res.locals.customerId = found.session.customerId;
      res.locals.session = found.session;
      res.locals.sessionToken = token;
      next();
    } catch (error) {
      next(error);
    }
  };
}

/** Requires the operator token from the configuration (`Authorization: Bearer <OPERATOR_TOKEN>`). */
export function requireOperator(operatorToken: string): RequestHandler {
  return (req, _res, next) => {
    const token = bearer(req);
    if (!token) return next(new DomainError('operator-token-required', 'operator token required'));
    if (!sameSecret(token, operatorToken))
      return next(new DomainError('forbidden', 'invalid operator token'));
    next();
  };
}
