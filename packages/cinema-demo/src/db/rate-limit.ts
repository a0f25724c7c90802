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
  const window = currentWindow(limit);
  const [hit] = await rows<{ hits: number }>(seats, seatsSql.hitRateLimit(key, window.start));
  if ((hit?.hits ?? 0) > limit.max) throw window.refusal();
}

/**
 * The fixed window `now` falls in, and the refusal of a hit past the limit in it (retry when the window ends),
 * for a statement that counts the hit together with other work (a booking's admission).
 *
 * @example
 * const window = currentWindow({ max: 10, windowMs: 60_000, what: 'bookings per minute' });
 */
export function currentWindow(limit: FixedWindowLimit, now = Date.now()) {
  const start = new Date(now - (now % limit.windowMs));
  return {
    start,
    refusal(): DomainError {
      const retryAfter = Math.max(1, Math.ceil((start.getTime() + limit.windowMs - now) / 1000));
      return new DomainError(
        'rate-limited',
        `at most ${limit.max} ${limit.what}; retry in ${retryAfter}s`,
        retryAfter,
      );
    },
  };
}
