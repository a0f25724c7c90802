import type pg from 'pg';
import { withTransaction } from 'txkit';
import type { Databases } from './databases.js';

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

/**
 * Fills empty databases with movies, rooms and customers with wallets, and schedules screenings (every seat free)
 * whenever none is left to come: a restarted demo keeps its bookings, and one started again days later still
 * has screenings to book (a screening that has started cannot be booked).
 *
 * @example
 * await seedDatabases(dbs);
 */
export async function seedDatabases(dbs: Databases): Promise<void> {
  await withTransaction(dbs.seats, async (client) => {
    // One seeder at a time when several instances start together.
    await client.query('LOCK TABLE cinema.movies IN EXCLUSIVE MODE');
    const { rows } = await client.query('SELECT 1 FROM cinema.movies LIMIT 1');
    if (rows.length === 0) await seedCatalog(client);
    await scheduleScreenings(client);
  });
  await withTransaction(dbs.payments, async (client) => {
    for (const name of SEED_CUSTOMERS) {
      await client.query(
        'INSERT INTO cinema.customers (name, balance_cents) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
        [name, SEED_BALANCE_CENTS],
      );
    }
  });
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
