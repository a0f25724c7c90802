import type { BenchDatabases } from '../library/booking-mode.js';
import type { DatabaseSnapshot } from '../library/mixed-states.js';

/** Wallet balance every bench customer gets, so that no booking fails for lack of money. */
export const BENCH_BALANCE_CENTS = 100_000_000;

/**
 * Creates a fresh room and screening for one e2e cell (rows × 60 places, price 100 cents) directly in the seats
 * database, and returns its id and seat ids: every cell starts on free seats of its own.
 */
export async function createBenchScreening(
  dbs: BenchDatabases,
  label: string,
  rows: number,
): Promise<{ screeningId: number; seatIds: number[] }> {
  const client = await dbs.seats.connect();
  try {
    await client.query('BEGIN');
    const movie = await client.query<{ id: number }>('SELECT id FROM cinema.movies ORDER BY id LIMIT 1');
    const room = await client.query<{ id: number }>(
      'INSERT INTO cinema.rooms (name, row_count, places_per_row) VALUES ($1, $2, 60) RETURNING id',
      [label, rows],
    );
    const roomId = room.rows[0]!.id;
    await client.query(
      `INSERT INTO cinema.seats (room_id, row_number, place)
       SELECT $1, r, p FROM generate_series(1, $2::int) r, generate_series(1, 60) p`,
      [roomId, rows],
    );
    const screening = await client.query<{ id: number }>(
      `INSERT INTO cinema.screenings (movie_id, room_id, starts_at, price_cents)
       VALUES ($1, $2, now() + interval '1 day', 100) RETURNING id`,
      [movie.rows[0]!.id, roomId],
    );
    const screeningId = screening.rows[0]!.id;
    await client.query(
      'INSERT INTO cinema.screening_seats (screening_id, seat_id) SELECT $1, id FROM cinema.seats WHERE room_id = $2',
      [screeningId, roomId],
    );
    const seats = await client.query<{ id: number }>(
      'SELECT id FROM cinema.seats WHERE room_id = $1 ORDER BY id',
      [roomId],
    );
    await client.query('COMMIT');
    return { screeningId, seatIds: seats.rows.map((r) => r.id) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Gives every customer the bench balance; returns the money in the system (wallets + captured payments). */
export async function fundCustomers(dbs: BenchDatabases): Promise<number> {
  await dbs.payments.query('UPDATE cinema.customers SET balance_cents = $1', [BENCH_BALANCE_CENTS]);
  return moneyInSystem(dbs);
}

/**
 * Wallet balances plus captured payments, less the demo's recorded top-ups (money that came in from outside):
 * constant while money is only moved, never created or lost.
 */
export async function moneyInSystem(dbs: BenchDatabases): Promise<number> {
  const { rows } = await dbs.payments.query<{ n: string }>(
    `SELECT ((SELECT coalesce(sum(balance_cents), 0) FROM cinema.customers)
           + (SELECT coalesce(sum(amount_cents), 0) FROM cinema.payments WHERE status = 'captured')
           - (SELECT coalesce(sum(amount_cents), 0) FROM cinema.top_ups))::text AS n`,
  );
  return Number(rows[0]?.n ?? 0);
}

async function ids(pool: BenchDatabases['seats'], sql: string, values: unknown[]): Promise<Set<string>> {
  const { rows } = await pool.query<{ id: string }>(sql, values);
  return new Set(rows.map((r) => r.id));
}

/**
 * The demo's version of the sampler's five reads (see DatabaseSnapshot), for one cell: its screening's seats, and
 * the payments and tickets written since the cell started — rows past the ids the tables had then (`after`), read
 * by a range of the primary key (payments do not know their screening, and a join across databases is what the
 * sampler cannot do). Like the library level's reads of tables that hold only the cell's rows, a snapshot costs
 * what the cell wrote, not what the whole run did: a read scanning every payment and ticket of the run would take
 * more and more of the servers' CPU from the bookings it measures, in e2e cells only.
 */
export async function readDemoSnapshot(
  dbs: BenchDatabases,
  screeningId: number,
  after: { paymentId: string; ticketId: string },
): Promise<DatabaseSnapshot> {
  const seats = () =>
    ids(
      dbs.seats,
      'SELECT booking_id::text AS id FROM cinema.screening_seats WHERE screening_id = $1 AND booking_id IS NOT NULL',
      [screeningId],
    );
  const captured = () =>
    ids(
      dbs.payments,
      "SELECT booking_id::text AS id FROM cinema.payments WHERE id > $1 AND status = 'captured'",
      [after.paymentId],
    );
  const s = await seats();
  const c = await captured();
  const issued = await ids(
    dbs.tickets,
    "SELECT DISTINCT booking_id::text AS id FROM cinema.tickets WHERE id > $2 AND screening_id = $1 AND status = 'valid'",
    [screeningId, after.ticketId],
  );
  return { seats: s, captured: c, issued, capturedAgain: await captured(), seatsAgain: await seats() };
}

/** The highest payment and ticket ids so far: where a cell's rows start (see readDemoSnapshot). */
export async function lastRowIds(dbs: BenchDatabases): Promise<{ paymentId: string; ticketId: string }> {
  const max = async (pool: BenchDatabases['seats'], table: string) =>
    (await pool.query<{ id: string }>(`SELECT coalesce(max(id), 0)::text AS id FROM cinema.${table}`))
      .rows[0]!.id;
  return { paymentId: await max(dbs.payments, 'payments'), ticketId: await max(dbs.tickets, 'tickets') };
}
