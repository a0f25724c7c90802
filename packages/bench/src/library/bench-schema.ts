import type pg from 'pg';
import type { BenchDatabases } from './booking-mode.js';

/**
 * The booking workload's tables. All three exist in every database so that the `local` baseline can do the same
 * three writes in one transaction in one database, while the distributed modes use one table per database.
 */
const ddl = `
  CREATE TABLE IF NOT EXISTS seats (id integer PRIMARY KEY, booking_id uuid);
  CREATE TABLE IF NOT EXISTS payments (
    id bigserial PRIMARY KEY, booking_id uuid NOT NULL UNIQUE, customer_id integer NOT NULL,
    amount_cents integer NOT NULL CHECK (amount_cents > 0), status text NOT NULL DEFAULT 'captured');
  CREATE TABLE IF NOT EXISTS tickets (
    id bigserial PRIMARY KEY, booking_id uuid NOT NULL UNIQUE, seat_id integer NOT NULL, code text NOT NULL,
    status text NOT NULL DEFAULT 'issued');
`;

/** Creates the workload's tables on every database and fills `seats` with `seatCount` free seats. */
export async function createBenchSchema(dbs: BenchDatabases, seatCount: number): Promise<void> {
  for (const pool of Object.values(dbs) as pg.Pool[]) {
    await pool.query(ddl);
  }
  await resetBenchData(dbs, seatCount);
}

/** Frees every seat and empties payments and tickets, so every measurement cell starts from the same state. */
export async function resetBenchData(dbs: BenchDatabases, seatCount: number): Promise<void> {
  for (const pool of Object.values(dbs) as pg.Pool[]) {
    await pool.query('TRUNCATE seats, payments, tickets');
    await pool.query('INSERT INTO seats (id) SELECT g FROM generate_series(1, $1) AS g', [seatCount]);
    await pool.query('VACUUM ANALYZE seats, payments, tickets');
  }
}

/** The booking's three writes, the same SQL in every mode. */
export const bookingSql = {
  lockSeat: 'SELECT booking_id FROM seats WHERE id = $1 FOR UPDATE',
  takeSeat: 'UPDATE seats SET booking_id = $2 WHERE id = $1',
  insertPayment: 'INSERT INTO payments (booking_id, customer_id, amount_cents) VALUES ($1, $2, $3)',
  releaseSeat: 'UPDATE seats SET booking_id = NULL WHERE id = $1 AND booking_id = $2',
  insertTicket: "INSERT INTO tickets (booking_id, seat_id, code) VALUES ($1, $2, 'T-' || $3::text)",
} as const;
