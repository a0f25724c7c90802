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
// [movie index, room index, hours from the seed's day start, price in cents]
const screenings = [
  [0, 0, 18, 1200],
  [1, 1, 18, 950],
  [2, 0, 21, 1200],
  [0, 1, 21, 950],
  [1, 0, 42, 1400],
  [2, 1, 42, 1100],
] as const;

/**
 * Fills empty databases with movies, rooms, screenings (every seat free) and customers with wallets. Does
 * nothing to a database that already has data, so a restarted demo keeps its bookings.
 *
 * @example
 * await seedDatabases(dbs);
 */
export async function seedDatabases(dbs: Databases): Promise<void> {
  await withTransaction(dbs.seats, async (client) => {
    // One seeder at a time when several instances start together.
    await client.query('LOCK TABLE cinema.movies IN EXCLUSIVE MODE');
    const { rows } = await client.query('SELECT 1 FROM cinema.movies LIMIT 1');
    if (rows.length > 0) return;
    const movieIds: number[] = [];
    for (const [title, minutes] of movies) {
      const r = await client.query<{ id: number }>(
        'INSERT INTO cinema.movies (title, duration_minutes) VALUES ($1, $2) RETURNING id',
        [title, minutes],
      );
      movieIds.push(r.rows[0]!.id);
    }
    const roomIds: number[] = [];
    for (const [name, rowCount, places] of rooms) {
      const r = await client.query<{ id: number }>(
        'INSERT INTO cinema.rooms (name, row_count, places_per_row) VALUES ($1, $2, $3) RETURNING id',
        [name, rowCount, places],
      );
      const roomId = r.rows[0]!.id;
      roomIds.push(roomId);
      await client.query(
        `INSERT INTO cinema.seats (room_id, row_number, place)
         SELECT $1, r, p FROM generate_series(1, $2::int) r, generate_series(1, $3::int) p`,
        [roomId, rowCount, places],
      );
    }
    const day = new Date();
    day.setUTCHours(0, 0, 0, 0);
    for (const [movie, room, hours, price] of screenings) {
      const r = await client.query<{ id: number }>(
        `INSERT INTO cinema.screenings (movie_id, room_id, starts_at, price_cents) VALUES ($1, $2, $3, $4)
         RETURNING id`,
        [movieIds[movie], roomIds[room], new Date(day.getTime() + hours * 3_600_000), price],
      );
      await client.query(
        `INSERT INTO cinema.screening_seats (screening_id, seat_id)
         SELECT $1, id FROM cinema.seats WHERE room_id = $2`,
        [r.rows[0]!.id, roomIds[room]],
      );
    }
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
