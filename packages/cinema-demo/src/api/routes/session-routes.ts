import { type Response, Router } from 'express';
import { SESSION_COOKIE } from '../../auth/auth-middleware.js';
import { issueSessionToken } from '../../auth/session-token.js';
import type { Databases } from '../../db/databases.js';
import * as paymentsSql from '../../db/payments-sql.js';
import { SEED_BALANCE_CENTS } from '../../db/seed.js';
import { rows } from '../../db/statement.js';
import { HttpError } from '../http-error.js';
import { parse, signInBody } from '../validation.js';

export interface SessionRoutesOptions {
  dbs: Databases;
  secret: string;
  ttlSeconds: number;
  /** Set the cookie's Secure flag (behind TLS). */
  secureCookie: boolean;
}

function setSessionCookie(res: Response, token: string, ttlSeconds: number, secure: boolean) {
  res.cookie(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    secure,
    maxAge: ttlSeconds * 1000,
    path: '/',
  });
}

/**
 * Demo sign-in: pick an existing customer, or sign up with a new name (a wallet with the starting balance).
 * The answer is a signed session with an expiry, as an HttpOnly cookie and as a bearer token for programs.
 */
export function sessionRoutes(o: SessionRoutesOptions): Router {
  const router = Router();
  router.post('/api/session', async (req, res) => {
    const body = parse(signInBody, req.body, 'sign-in request');
    let customer: { id: number; name: string } | undefined;
    if ('customerId' in body) {
      [customer] = await rows<{ id: number; name: string }>(
        o.dbs.payments,
        paymentsSql.getCustomer(body.customerId),
      );
      if (!customer)
        throw new HttpError(404, 'customer-not-found', `customer ${body.customerId} does not exist`);
    } else {
      [customer] = await rows<{ id: number; name: string }>(
        o.dbs.payments,
        paymentsSql.insertCustomer(body.name, SEED_BALANCE_CENTS),
      );
      if (!customer)
        throw new HttpError(409, 'name-taken', `a customer named '${body.name}' exists; pick them`);
    }
    const expiresAt = Math.floor(Date.now() / 1000) + o.ttlSeconds;
    const token = issueSessionToken({ customerId: customer.id, expiresAt }, o.secret);
    setSessionCookie(res, token, o.ttlSeconds, o.secureCookie);
    res.status(201).json({
      customer: { id: customer.id, name: customer.name },
      token,
      expiresAt: new Date(expiresAt * 1000).toISOString(),
    });
  });
  router.delete('/api/session', (_req, res) => {
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.status(204).end();
  });
  return router;
}
