import type pg from 'pg';
import { DomainError } from '../domain-error.js';
import * as seatsSql from './seats-sql.js';
import { rows } from './statement.js';

/** A limit of `max` hits per fixed window of `windowMs`, counted per key. */
export interface FixedWindowLimit {
  max: number;
  windowMs: number;
  /** What the refusal's message says is limited, e.g. "bookings per minute". */
  what: string;
}

/**
 * Counts one hit of `key` in the current fixed window (in the seats database, so every API instance shares the
 * count) and throws `rate-limited` (retry after the seconds to the window's end) once the count is past the limit.
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
    throw new DomainError(
      'rate-limited',
      `at most ${limit.max} ${limit.what}; retry in ${retryAfter}s`,
      retryAfter,
    );
  }
}
