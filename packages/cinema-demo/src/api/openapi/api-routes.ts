import type { z } from 'zod';
import { bookingBody, signInBody, signUpBody, topUpBody } from '../validation.js';
import * as body from './response-schemas.js';

/** One answer of a route: a JSON body (zod), plain text, or none; and the headers it carries. */
export interface ResponseDoc {
  description: string;
  json?: z.ZodType;
  text?: string;
  headers?: Record<string, string>;
}

/** One route of the HTTP API as the OpenAPI document describes it. */
export interface RouteDoc {
  method: 'get' | 'post' | 'delete';
  /** OpenAPI form: `/api/bookings/{bookingId}`. */
  path: string;
  summary: string;
  description?: string;
  tag: 'public' | 'accounts' | 'customer' | 'operator';
  /** Who may call it: anyone, the signed-in customer (cookie + CSRF token, or bearer), the operator. */
  auth: 'none' | 'customer' | 'operator';
  params?: Record<string, 'integer' | 'uuid'>;
  query?: Record<string, { type: 'integer'; description: string }>;
  idempotencyKey?: boolean;
  /** The request body's schema: the very one the route validates with. */
  body?: z.ZodType;
  responses: Record<number, ResponseDoc>;
}

type Codes = [string, ...string[]];
const error = (description: string, codes: Codes, headers?: Record<string, string>): ResponseDoc => ({
  description: `${description} (error codes: ${codes.join(', ')})`,
  json: body.errorBody(codes),
  ...(headers ? { headers } : {}),
});
const retryAfter = { 'Retry-After': 'seconds until the limit lets the request through' };

// Answers every route may give, added by `withCommon`.
const internal = error('unexpected server failure', ['internal']);
const originRefused = error('a state-changing request from a foreign Origin', ['origin-not-allowed']);
const badJson = error('the body is not valid JSON or not a valid request', [
  'invalid-request',
  'malformed-json',
]);
const tooLarge = error('the body is larger than BODY_LIMIT_BYTES', ['body-too-large']);
const badEncoding = error('unsupported content encoding or charset', [
  'unsupported-encoding',
  'unsupported-charset',
]);
const signedOut = error('no live session: none, forged, expired or revoked (sign-out)', [
  'unauthenticated',
  'session-invalid',
  'session-expired',
  'session-revoked',
]);
const badParam = error('a path parameter is malformed', ['invalid-request']);

/** The answers a route gives besides its own: auth failures, body failures, the 500. */
function withCommon(route: RouteDoc): RouteDoc {
  const r: Record<number, ResponseDoc> = { ...route.responses, 500: internal };
  const writes = route.method !== 'get';
  if (route.body) Object.assign(r, { 400: r[400] ?? badJson, 413: tooLarge, 415: badEncoding });
  if (route.params && !r[400]) r[400] = badParam;
  if (route.auth === 'customer') {
    r[401] = signedOut;
    if (writes) {
      r[403] = error('a foreign Origin, or a write made with the cookie but without the CSRF token', [
        'origin-not-allowed',
        'csrf-token-invalid',
      ]);
    }
  } else if (route.auth === 'operator') {
    r[401] = error('no operator token', ['operator-token-required']);
    r[403] = error('a wrong operator token', ['forbidden']);
  } else if (writes) r[403] = originRefused;
  return { ...route, responses: r };
}

/**
 * Every route of the API, with the request schemas its handler validates with and every answer it gives.
 * The OpenAPI document is generated from this list, and the contract tests check real answers against it.
 *
 * @example
 * for (const route of apiRoutes({ maxSeats: 8, topUpCentsPerDay: 50_000 })) console.log(route.method, route.path);
 */
export function apiRoutes(o: { maxSeats: number; topUpCentsPerDay: number }): RouteDoc[] {
  const routes: RouteDoc[] = [
    {
      method: 'get',
      path: '/healthz',
      summary: 'Health of the instance and its three databases',
      tag: 'public',
      auth: 'none',
      responses: {
        200: { description: 'every database answers', json: body.health },
        503: { description: 'a database does not answer', json: body.health },
      },
    },
    {
      method: 'get',
      path: '/api/screenings',
      summary: 'Screenings still to come, with their free seats',
      tag: 'public',
      auth: 'none',
      responses: { 200: { description: 'the programme', json: body.screenings } },
    },
    {
      method: 'get',
      path: '/api/screenings/{screeningId}',
      summary: 'A screening and its seat map (never who holds a seat)',
      tag: 'public',
      auth: 'none',
      params: { screeningId: 'integer' },
      responses: {
        200: { description: 'the screening and its seats', json: body.screeningWithSeats },
        404: error('no such screening', ['screening-not-found']),
      },
    },
    {
      method: 'get',
      path: '/api/read-model/screenings/{screeningId}',
      summary: "The read model's seat states of a screening (what the live seat map starts from)",
      tag: 'public',
      auth: 'none',
      params: { screeningId: 'integer' },
      responses: {
        200: { description: 'seat states with versions', json: body.readModelSnapshot },
        404: error('no such screening in the read model', ['screening-not-found']),
      },
    },
    {
      method: 'post',
      path: '/api/accounts',
      summary: 'Sign up: a new customer with an empty wallet, and a session',
      description:
        'The password (12-128 characters) is stored as an argon2id hash. New accounts per client address are limited (SIGN_UPS_PER_CLIENT per hour).',
      tag: 'accounts',
      auth: 'none',
      body: signUpBody,
      responses: {
        201: {
          description: 'signed up and signed in; the session is also set as an HttpOnly cookie',
          json: body.sessionStarted,
          headers: { 'Set-Cookie': 'cinema_session: HttpOnly; SameSite=Strict; Secure over TLS' },
        },
        409: error('the email or the name is taken', ['email-taken', 'name-taken']),
        429: error('too many sign-ups from this client', ['rate-limited'], retryAfter),
      },
    },
    {
      method: 'post',
      path: '/api/session',
      summary: 'Sign in with email and password',
      description:
        'An unknown email and a wrong password get the same answer in the same time. Attempts are limited per account and per client address (429 with Retry-After).',
      tag: 'accounts',
      auth: 'none',
      body: signInBody,
      responses: {
        201: {
          description: 'signed in; the session is also set as an HttpOnly cookie',
          json: body.sessionStarted,
          headers: { 'Set-Cookie': 'cinema_session: HttpOnly; SameSite=Strict; Secure over TLS' },
        },
        401: error('wrong email or password', ['invalid-credentials']),
        429: error('too many attempts for this account or from this client', ['rate-limited'], retryAfter),
      },
    },
    {
      method: 'get',
      path: '/api/session',
      summary: 'The current session (the browser reads its CSRF token here after a reload)',
      tag: 'accounts',
      auth: 'customer',
      responses: { 200: { description: 'the live session', json: body.currentSession } },
    },
    {
      method: 'delete',
      path: '/api/session',
      summary: 'Sign out: the session is revoked server-side and the cookie cleared',
      tag: 'accounts',
      auth: 'customer',
      responses: { 204: { description: 'signed out' } },
    },
    {
      method: 'get',
      path: '/api/me',
      summary: 'The signed-in customer with their wallet and recent payments',
      tag: 'customer',
      auth: 'customer',
      responses: {
        200: { description: 'wallet and payments', json: body.me },
        404: error('the customer record is gone', ['customer-not-found']),
      },
    },
    {
      method: 'post',
      path: '/api/me/top-up',
      summary: 'Demo money into the wallet, capped',
      description:
        'No wallet above TOP_UP_CENTS_PER_DAY, and at most that much per customer in 24 hours. Every top-up is recorded, so audits can tell money that came in from money created.',
      tag: 'customer',
      auth: 'customer',
      body: topUpBody(o.topUpCentsPerDay),
      responses: {
        201: { description: 'credited', json: body.topUp },
        404: error('the customer record is gone', ['customer-not-found']),
        422: error('the wallet would hold more than the cap', ['wallet-full']),
        429: error("the day's top-up allowance is used up", ['top-up-limit'], retryAfter),
      },
    },
    {
      method: 'get',
      path: '/api/bookings',
      summary: "The signed-in customer's bookings",
      tag: 'customer',
      auth: 'customer',
      responses: { 200: { description: 'newest first', json: body.bookings } },
    },
    {
      method: 'post',
      path: '/api/bookings',
      summary: 'Book seats by saga or two-phase commit',
      description:
        'The status code tells the outcome, the body the details: 201 confirmed (200 when answering a retry with the same Idempotency-Key), 409 refused (the rejected booking is in the body, its `reason` says why: seat-taken, payment-declined, ...), 202 still running (follow GET /api/bookings/{bookingId}). A client that reads only the status never takes a refusal for a success.',
      tag: 'customer',
      auth: 'customer',
      idempotencyKey: true,
      body: bookingBody(o.maxSeats),
      responses: {
        200: {
          description: 'a retry answered with the confirmed booking',
          json: body.oneBooking,
          headers: { 'Idempotent-Replayed': 'true' },
        },
        201: { description: 'booked: seats, payment and tickets all committed', json: body.oneBooking },
        202: { description: 'still running; its outcome comes later', json: body.oneBooking },
        409: {
          description:
            'refused: nothing was kept (seat taken, payment declined, ticketing failed, ...); the rejected booking and its reason are in the body. Also the error `screening-started`.',
          json: body.oneBooking.or(body.errorBody(['screening-started'])),
        },
        400: error('invalid body or Idempotency-Key header', ['invalid-request', 'malformed-json']),
        404: error('no such screening', ['screening-not-found']),
        422: error('a seat of another room, or a reused Idempotency-Key', [
          'seat-not-in-room',
          'idempotency-key-reused',
        ]),
        429: error('too many bookings this minute (BOOKINGS_PER_MINUTE)', ['rate-limited'], retryAfter),
      },
    },
    {
      method: 'get',
      path: '/api/bookings/{bookingId}',
      summary: 'One of your bookings',
      tag: 'customer',
      auth: 'customer',
      params: { bookingId: 'uuid' },
      responses: {
        200: { description: 'the booking', json: body.oneBooking },
        404: error("no such booking of yours (another customer's answers the same)", ['booking-not-found']),
      },
    },
    {
      method: 'get',
      path: '/api/bookings/{bookingId}/timeline',
      summary: 'What happened to one of your bookings: saga steps and compensations, 2PC phases',
      tag: 'customer',
      auth: 'customer',
      params: { bookingId: 'uuid' },
      responses: {
        200: { description: 'the events, oldest first', json: body.timeline },
        404: error('no such booking of yours', ['booking-not-found']),
      },
    },
    {
      method: 'get',
      path: '/api/bookings/{bookingId}/waterfall',
      summary: "The timing of one of your bookings' transactions, as a waterfall",
      description:
        'Bars per database (seats, payments, tickets) and for the coordinator, at their real start and duration in ' +
        'milliseconds: each saga step and compensation attempt (a retry is a bar of its own), or each 2PC ' +
        "participant's statements and the prepare and commit phases. One entry for the booking and, once it is " +
        'cancelled, one for the cancellation. Recorded by the instance that ran the transaction and written ' +
        'to the seats database in batches (within about 250 ms), so it survives reloads and is the same from every ' +
        'instance; empty for a transaction whose timing was not recorded (a saga another instance resumed after a ' +
        'crash, a timing dropped while the database was down) — the timeline route still answers for those. Only ' +
        "your own bookings: another customer's booking answers 404, like a missing one.",
      tag: 'customer',
      auth: 'customer',
      params: { bookingId: 'uuid' },
      responses: {
        200: {
          description: 'the booking and cancellation waterfalls, the booking first',
          json: body.waterfall,
        },
        404: error('no such booking of yours', ['booking-not-found']),
      },
    },
    {
      method: 'post',
      path: '/api/bookings/{bookingId}/cancel',
      summary: 'Cancel a confirmed booking: seats freed, payment refunded, tickets voided',
      tag: 'customer',
      auth: 'customer',
      params: { bookingId: 'uuid' },
      responses: {
        200: {
          description: 'the booking after cancellation (cancelled, or cancelling if it is still running)',
          json: body.oneBooking,
        },
        404: error('no such booking of yours', ['booking-not-found']),
        409: error('the booking is not confirmed', ['not-cancellable']),
      },
    },
    {
      method: 'get',
      path: '/api/ops/transactions',
      summary: 'Recent sagas and 2PC transactions, prepared transactions in doubt, stuck sagas',
      tag: 'operator',
      auth: 'operator',
      query: { limit: { type: 'integer', description: '1-500, default 50' } },
      responses: { 200: { description: 'the transactions view', json: body.transactions } },
    },
    {
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics',
      tag: 'operator',
      auth: 'operator',
      responses: { 200: { description: 'Prometheus text format', text: 'text/plain' } },
    },
    {
      method: 'get',
      path: '/api/openapi.json',
      summary: 'This description',
      tag: 'public',
      auth: 'none',
      responses: { 200: { description: 'the OpenAPI 3.1 document' } },
    },
    {
      method: 'get',
      path: '/api/docs',
      summary: 'This description as a page (Swagger UI, served from this app)',
      tag: 'public',
      auth: 'none',
      responses: { 200: { description: 'an HTML page', text: 'text/html' } },
    },
  ];
  return routes.map(withCommon);
}
