import type { Request, RequestHandler } from 'express';
import { HttpError } from '../api/http-error.js';
import { sameSecret, verifySessionToken } from './session-token.js';

/** The session cookie's name. */
export const SESSION_COOKIE = 'cinema_session';

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

/** The signed-in customer of a request that went through {@link requireCustomer}. */
export function customerOf(req: Request): number {
  const id = req.res?.locals.customerId;
  if (typeof id !== 'number') throw new HttpError(401, 'unauthenticated', 'sign in first');
  return id;
}

/**
 * Requires a valid session (HttpOnly cookie from the browser, or `Authorization: Bearer` for programs) and
 * records the customer it names. The customer is never taken from the request body.
 */
export function requireCustomer(secret: string): RequestHandler {
  return (req, res, next) => {
    const token = bearer(req) ?? cookie(req, SESSION_COOKIE);
    if (!token) return next(new HttpError(401, 'unauthenticated', 'sign in first'));
    const result = verifySessionToken(token, secret, Date.now() / 1000);
    if ('problem' in result) {
      const message = result.problem === 'expired' ? 'session expired; sign in again' : 'invalid session';
      return next(new HttpError(401, `session-${result.problem}`, message));
    }
    res.locals.customerId = result.session.customerId;
    next();
  };
}

/** Requires the operator token from the configuration (`Authorization: Bearer <OPERATOR_TOKEN>`). */
export function requireOperator(operatorToken: string): RequestHandler {
  return (req, _res, next) => {
    const token = bearer(req);
    if (!token) return next(new HttpError(401, 'operator-token-required', 'operator token required'));
    if (!sameSecret(token, operatorToken))
      return next(new HttpError(403, 'forbidden', 'invalid operator token'));
    next();
  };
}
