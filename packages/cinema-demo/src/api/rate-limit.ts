import type pg from 'pg';
import * as seatsSql from '../db/seats-sql.js';
import { rows } from '../db/statement.js';
import { HttpError } from './http-error.js';

/** A limit of `max` hits per fixed window of `windowMs`, counted per key. */
export interface FixedWindowLimit {
  max: number;
  windowMs: number;
  /** What the 429 message says is limited, e.g. "bookings per minute". */
  what: string;
}

/**
 * Counts one hit of `key` in the current fixed window (in the seats database, so every API instance shares the
 * count) and throws a 429 with `Retry-After` (seconds to the window's end) once the count is past the limit.
 * The hit is counted before the work it guards, so concurrent requests cannot slip past the limit together.
 *
 * @example
 * await hitLimit(dbs.seats, `sign-in:client:${req.ip}`, { max: 50, windowMs: 900_000, what: 'sign-in attempts' });
 */
export async function hitLimit(seats: pg.Pool, key: string, limit: FixedWindowLimit): Promise<void> {
  const now = Date.now();
  const windowStart = new Date(now - (now % limit.windowMs));
  const [hit] = await rows<{ hits: number }>(seats, seatsSql.hitRateLimit(key, windowStart));
  if ((hit?.hits ?? 0) > limit.max) {
    const retryAfter = Math.max(1, Math.ceil((windowStart.getTime() + limit.windowMs - now) / 1000));
    throw new HttpError(
      429,
      'rate-limited',
      `at most ${limit.max} ${limit.what}; retry in ${retryAfter}s`,
      undefined,
      { 'Retry-After': String(retryAfter) },
    );
  }
}
