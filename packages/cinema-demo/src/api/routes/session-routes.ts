import { type Request, type Response, Router } from 'express';
import { authenticate, type CustomerName, createAccount } from '../../auth/accounts.js';
import { requireCustomer, SESSION_COOKIE, sessionOf } from '../../auth/auth-middleware.js';
import type { SessionInfo, SessionStore } from '../../auth/session-store.js';
import type { Databases } from '../../db/databases.js';
import { hitLimit } from '../../db/rate-limit.js';
import { HttpError } from '../http-error.js';
import { parse, signInBody, signUpBody } from '../validation.js';

export interface SessionRoutesOptions {
  dbs: Databases;
  sessions: SessionStore;
  /** Set the cookie's Secure flag (served over TLS). */
  secureCookie: boolean;
  signInAttemptsPerAccount: number;
  signInAttemptsPerClient: number;
  signUpsPerClient: number;
}

const FIFTEEN_MINUTES = 15 * 60_000;
const HOUR = 60 * 60_000;

/** Who a request comes from, for per-client limits (behind the proxy: the address it reports). */
function clientOf(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/**
 * Starts a session: the token as an HttpOnly SameSite=Strict cookie (Secure over TLS) for the browser, and in
 * the body for programs (`Authorization: Bearer`), with the CSRF token the browser sends back on writes.
 */
async function startSession(o: SessionRoutesOptions, res: Response, customer: CustomerName): Promise<void> {
  const { token, session } = await o.sessions.create(customer.id);
  res.cookie(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    secure: o.secureCookie,
    maxAge: o.sessions.ttlSeconds * 1000,
    path: '/',
  });
  res.status(201).json({ customer, token, ...sessionFields(session) });
}

function sessionFields(session: SessionInfo) {
  return { csrfToken: session.csrfToken, expiresAt: session.expiresAt.toISOString() };
}

/**
 * Accounts and sessions: sign up (`POST /api/accounts`), sign in (`POST /api/session`), the current session
 * (`GET /api/session`) and sign out (`DELETE /api/session`, which revokes the session server-side).
 *
 * @example
 * app.use(sessionRoutes({ dbs, sessions, secureCookie: false, signInAttemptsPerAccount: 10, ... }));
 */
export function sessionRoutes(o: SessionRoutesOptions): Router {
  const router = Router();
  const signedIn = requireCustomer(o.sessions);

  router.post('/api/accounts', async (req, res) => {
    const body = parse(signUpBody, req.body, 'sign-up request');
    await hitLimit(o.dbs.seats, `sign-up:client:${clientOf(req)}`, {
      max: o.signUpsPerClient,
      windowMs: HOUR,
      what: 'new accounts per hour from one client',
    });
    const customer = await createAccount(o.dbs.payments, { ...body, email: body.email.toLowerCase() });
    await startSession(o, res, customer);
  });

  router.post('/api/session', async (req, res) => {
    const body = parse(signInBody, req.body, 'sign-in request');
    const email = body.email.toLowerCase();
    // Both counted before the password is checked, for known and unknown emails alike: the 429 says nothing
    // about which accounts exist, and parallel guesses cannot slip past the count.
    await hitLimit(o.dbs.seats, `sign-in:client:${clientOf(req)}`, {
      max: o.signInAttemptsPerClient,
      windowMs: FIFTEEN_MINUTES,
      what: 'sign-in attempts per 15 minutes from one client',
    });
    await hitLimit(o.dbs.seats, `sign-in:account:${email}`, {
      max: o.signInAttemptsPerAccount,
      windowMs: FIFTEEN_MINUTES,
      what: 'sign-in attempts per 15 minutes for one account',
    });
    const customer = await authenticate(o.dbs.payments, email, body.password);
    // One answer for an unknown email and a wrong password.
    if (!customer) throw new HttpError(401, 'invalid-credentials', 'wrong email or password');
    await startSession(o, res, customer);
  });

  router.get('/api/session', signedIn, (req, res) => {
    const { session } = sessionOf(req);
    res.json({ customerId: session.customerId, ...sessionFields(session) });
  });

  router.delete('/api/session', signedIn, async (req, res) => {
    await o.sessions.revoke(sessionOf(req).token);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.status(204).end();
  });
  return router;
}
