import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Databases } from './databases.js';
import { describeLockHolders, type PreparedLockHolder, preparedLockHolders } from './lock-holders.js';
import { boundedTransaction, isLockTimeout } from './wait-limits.js';

/** Customers every fresh demo starts with, each with a wallet of 500.00. */
export const SEED_CUSTOMERS = ['Alice', 'Bob', 'Carol', 'Dave'] as const;
export const SEED_BALANCE_CENTS = 50_000;

const movies = [
  ['The Two Phases', 118],
  ['Compensation', 104],
  ['Presumed Abort', 96],
] as const;
const rooms = [
  ['Room 1', 10, 15],
  ['Room 2', 8, 12],
] as const;
// [movie title, room name, hours after the next full hour, price in cents]
const programme = [
  ['The Two Phases', 'Room 1', 2, 1200],
  ['Compensation', 'Room 2', 2, 950],
  ['Presumed Abort', 'Room 1', 5, 1200],
  ['The Two Phases', 'Room 2', 5, 950],
  ['Compensation', 'Room 1', 26, 1400],
  ['Presumed Abort', 'Room 2', 26, 1100],
] as const;

/** The two parts of seeding, one transaction each: what a lock wait can hold up. */
export type SeedPart = 'catalog' | 'customers';

/** The tables each part writes, for naming what holds a lock when one runs out. */
const tablesOf: Record<SeedPart, readonly string[]> = {
  catalog: ['cinema.movies', 'cinema.rooms', 'cinema.seats', 'cinema.screenings', 'cinema.screening_seats'],
  customers: ['cinema.customers'],
};

/** A lock wait of seeding that ran out: what it was doing and, when a leftover is to blame, which one. */
export interface SeedLockWait {
  part: SeedPart;
  attempt: number;
  holders: PreparedLockHolder[];
  /** One line for the log. */
  description: string;
}

export interface SeedOptions {
  /** Bounds each lock wait of seeding (default 3 s). */
  lockTimeoutMs?: number;
  /** How long a part that keeps meeting a lock is retried before seeding leaves it out (default 15 s). */
  retryForMs?: number;
  /** Told of each lock wait that ran out, before the retry. */
  onLockWait?: (wait: SeedLockWait) => void;
}

/** What seeding left out, and why (a lock it could not get in time); empty when everything is seeded. */
export interface SeedReport {
  skipped: { part: SeedPart; reason: string }[];
}

/**
 * Fills empty databases with movies, rooms and customers with wallets, and schedules screenings (every seat free)
 * whenever none is left to come: a restarted demo keeps its bookings, and one started again days later still
 * has screenings to book (a screening that has started cannot be booked).
 *
 * Start-up must not wait behind a prepared transaction a dead instance left (it keeps its locks until recovery
 * resolves it): rows that exist are never written or locked (a plain `ON CONFLICT DO NOTHING` would wait for the
 * leftover that updated the row), every lock wait is bounded, and a part that keeps meeting a lock is retried for
 * a while and then left out, with the reason in the report, instead of holding up the start.
 *
 * @example
 * const { skipped } = await seedDatabases(dbs, { lockTimeoutMs: 3_000, onLockWait: (w) => log.warn(w.description) });
 */
export async function seedDatabases(dbs: Databases, options: SeedOptions = {}): Promise<SeedReport> {
  const report: SeedReport = { skipped: [] };
  const seedPart = async (part: SeedPart, pool: pg.Pool, work: (client: pg.PoolClient) => Promise<void>) => {
    const skipped = await withLockRetry(part, pool, options, work);
    if (skipped) report.skipped.push({ part, reason: skipped });
  };
  await seedPart('catalog', dbs.seats, async (client) => {
    // One seeder at a time when several instances start together; an advisory lock, so that nothing else
    // (and no leftover) that touches these tables is waited for or made to wait.
    await client.query("SELECT pg_advisory_xact_lock(hashtext('cinema-demo:seed'))");
    const { rows } = await client.query('SELECT 1 FROM cinema.movies LIMIT 1');
    if (rows.length === 0) await seedCatalog(client);
    await scheduleScreenings(client);
  });
  await seedPart('customers', dbs.payments, async (client) => {
    // Only the missing names are inserted: the NOT EXISTS reads the committed rows without waiting, so a
    // customer whose wallet a leftover holds is skipped, not waited for. ON CONFLICT still settles two
    // instances inserting the same missing name at once.
    await client.query(
      `INSERT INTO cinema.customers (name, balance_cents)
       SELECT s.name, $2 FROM unnest($1::text[]) WITH ORDINALITY AS s(name, n)
        WHERE NOT EXISTS (SELECT 1 FROM cinema.customers c WHERE c.name = s.name)
        ORDER BY s.n
       ON CONFLICT (name) DO NOTHING`,
      [SEED_CUSTOMERS, SEED_BALANCE_CENTS],
    );
  });
  return report;
}

/**
 * Runs one part in a transaction with a lock timeout; on a lock wait that ran out, says what it waited for and
 * retries with backoff until `retryForMs` is spent. Returns why the part was left out, or undefined when done.
 */
async function withLockRetry(
  part: SeedPart,
  pool: pg.Pool,
  options: SeedOptions,
  work: (client: pg.PoolClient) => Promise<void>,
): Promise<string | undefined> {
  const lockTimeoutMs = options.lockTimeoutMs ?? 3_000;
  const deadline = Date.now() + (options.retryForMs ?? 15_000);
  for (let attempt = 1; ; attempt++) {
    try {
      await boundedTransaction(pool, { lockTimeoutMs }, work);
      return undefined;
    } catch (error) {
      if (!isLockTimeout(error)) throw error;
      // Only a diagnosis: when it fails, the wait is still reported, without its holders.
      const holders = await preparedLockHolders(pool, tablesOf[part]).catch(() => []);
      const description = `seeding ${part} waited ${lockTimeoutMs} ms for a lock: ${describeLockHolders(holders)}`;
      options.onLockWait?.({ part, attempt, holders, description });
      const delayMs = Math.min(2_000, 100 * 2 ** (attempt - 1));
      if (Date.now() + delayMs + lockTimeoutMs > deadline) {
        return `${description}; left out after ${attempt} attempt(s), seeded on a later start`;
      }
      await sleep(delayMs);
    }
  }
}

/** Movies, rooms and their seats. */
async function seedCatalog(client: pg.PoolClient): Promise<void> {
  for (const [title, minutes] of movies) {
    await client.query('INSERT INTO cinema.movies (title, duration_minutes) VALUES ($1, $2)', [
      title,
      minutes,
    ]);
  }
  for (const [name, rowCount, places] of rooms) {
    const r = await client.query<{ id: number }>(
      'INSERT INTO cinema.rooms (name, row_count, places_per_row) VALUES ($1, $2, $3) RETURNING id',
      [name, rowCount, places],
    );
    const roomId = r.rows[0]!.id;
    await client.query(
      `INSERT INTO cinema.seats (room_id, row_number, place)
         SELECT $1, r, p FROM generate_series(1, $2::int) r, generate_series(1, $3::int) p`,
      [roomId, rowCount, places],
    );
  }
}

/** Today's programme, from the next full hour on, unless a screening is still to come. */
async function scheduleScreenings(client: pg.PoolClient): Promise<void> {
  const upcoming = await client.query('SELECT 1 FROM cinema.screenings WHERE starts_at > now() LIMIT 1');
  if (upcoming.rows.length > 0) return;
  for (const [movie, room, hours, price] of programme) {
    // By the database's clock, like the check that closes a started screening.
    const r = await client.query<{ id: number; roomId: number }>(
      `INSERT INTO cinema.screenings (movie_id, room_id, starts_at, price_cents)
       SELECT m.id, r.id, date_trunc('hour', now()) + make_interval(hours => $3 + 1), $4
         FROM cinema.movies m, cinema.rooms r WHERE m.title = $1 AND r.name = $2
       RETURNING id, room_id AS "roomId"`,
      [movie, room, hours, price],
    );
    const screening = r.rows[0];
    if (!screening) throw new Error(`seed: no movie '${movie}' or room '${room}'`);
    await client.query(
      `INSERT INTO cinema.screening_seats (screening_id, seat_id)
       SELECT $1, id FROM cinema.seats WHERE room_id = $2`,
      [screening.id, screening.roomId],
    );
  }
}
