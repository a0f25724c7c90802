import type { Request } from 'express';
import { z } from 'zod';
import { HttpError, validationError } from './http-error.js';

const id = z.number().int().positive().max(2_147_483_647);

/** Body of `POST /api/bookings`: no customer (the session says who) and no price (the server computes it). */
export function bookingBody(maxSeats: number) {
  return z
    .object({
      screeningId: id,
      seatIds: z
        .array(id)
        .min(1, 'choose at least one seat')
        .max(maxSeats, `at most ${maxSeats} seats per booking`)
        .refine((ids) => new Set(ids).size === ids.length, 'seats must not repeat'),
      mode: z.enum(['saga', '2pc']),
    })
    .strict();
}

// Lower-cased by the routes before use: one account per address, whatever its case.
const email = z.email('a valid email address').max(254);

/** Body of `POST /api/session`: sign in with the account's email and password. */
export const signInBody = z
  .object({
    email,
    // Only an upper bound here: the policy is for new passwords, and hashing megabytes would be a cheap DoS.
    password: z.string().min(1).max(128),
  })
  .strict();

/** Body of `POST /api/accounts`: a new account, with a name shown in the app and a wallet that starts empty. */
export const signUpBody = z
  .object({
    email,
    // ASVS 5 (2.1.1): at least 12 characters; no composition rules; at most 128 (cost of hashing).
    password: z.string().min(12, 'at least 12 characters').max(128),
    name: z
      .string()
      .trim()
      .min(2)
      .max(40)
      .regex(/^[\p{L}\p{N} .'-]+$/u, "letters, digits, spaces and . ' - only"),
  })
  .strict();

/** Body of `POST /api/me/top-up`: demo money, in cents, at most the daily allowance. */
export function topUpBody(maxCents: number) {
  return z.object({ amountCents: z.number().int().min(100).max(Math.max(100, maxCents)) }).strict();
}

/** Idempotency keys: 8-100 characters of letters, digits, '-', '_', ':' or '.' (UUIDs fit). */
const idempotencyKey = z
  .string({ error: 'the Idempotency-Key header is required' })
  .regex(/^[A-Za-z0-9_.:-]{8,100}$/, 'Idempotency-Key must be 8-100 characters of A-Z a-z 0-9 _ . : -');

/** Parses a value with a schema or throws a 400 naming the bad fields. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error, where);
  return result.data;
}

/** The request's Idempotency-Key header, validated. */
export function idempotencyKeyOf(req: Request): string {
  return parse(idempotencyKey, req.get('idempotency-key'), 'Idempotency-Key header');
}

/** A positive integer path parameter. */
export function intParam(req: Request, name: string): number {
  const raw = String(req.params[name] ?? '');
  if (!raw || !/^[0-9]{1,10}$/.test(raw) || Number(raw) < 1 || Number(raw) > 2_147_483_647) {
    throw new HttpError(400, 'invalid-request', `invalid ${name}: expected a positive integer`);
  }
  return Number(raw);
}

/** A uuid path parameter. */
export function uuidParam(req: Request, name: string): string {
  const raw = String(req.params[name] ?? '');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(raw)) {
    throw new HttpError(400, 'invalid-request', `invalid ${name}: expected a uuid`);
  }
  return raw.toLowerCase();
}
