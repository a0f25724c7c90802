import type pg from 'pg';
import type { TestDatabases } from 'txkit/testing';

// The end state a crash must leave the demo in, read from the three databases (seats on a, payments on b,
// tickets on c): what a careful operator would check after an incident.

const seatsOf = (dbs: TestDatabases) => dbs.on('a').pool;
const paymentsOf = (dbs: TestDatabases) => dbs.on('b').pool;
const ticketsOf = (dbs: TestDatabases) => dbs.on('c').pool;

async function column(pool: pg.Pool, sql: string, values: unknown[] = []): Promise<string[]> {
  const { rows } = await pool.query<{ v: string }>(sql, values);
  return rows.map((r) => r.v);
}

/**
 * Wallet balances plus captured payments, less the recorded top-ups (money that came in from outside):
 * constant while money only moves, never created or lost.
 */
export async function moneyInSystem(payments: pg.Pool): Promise<number> {
  const [total] = await column(
    payments,
    `SELECT ((SELECT coalesce(sum(balance_cents), 0) FROM cinema.customers)
           + (SELECT coalesce(sum(amount_cents), 0) FROM cinema.payments WHERE status = 'captured')
           - (SELECT coalesce(sum(amount_cents), 0) FROM cinema.top_ups))::text AS v`,
  );
  return Number(total);
}

/** What still waits to be settled: prepared transactions, bookings pending or cancelling, sagas mid-way. */
export interface Unsettled {
  prepared: number;
  unsettledBookings: number;
  unfinishedSagas: number;
}

async function unsettled(dbs: TestDatabases): Promise<Unsettled> {
  let prepared = 0;
  for (const db of dbs.databases) {
    const [n] = await column(
      db.pool,
      'SELECT count(*)::text AS v FROM pg_prepared_xacts WHERE database = current_database()',
    );
    prepared += Number(n);
  }
  const [bookings] = await column(
    seatsOf(dbs),
    "SELECT count(*)::text AS v FROM cinema.bookings WHERE status IN ('pending', 'cancelling')",
  );
  const [sagas] = await column(
    seatsOf(dbs),
    "SELECT count(*)::text AS v FROM txkit.saga WHERE status IN ('running', 'compensating', 'failed')",
  );
  return { prepared, unsettledBookings: Number(bookings), unfinishedSagas: Number(sagas) };
}

/** Polls until nothing is left to settle, or `timeoutMs` passes; returns what is left (all zero when settled). */
export async function waitUntilSettled(dbs: TestDatabases, timeoutMs: number): Promise<Unsettled> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await unsettled(dbs);
    if (
      (left.prepared === 0 && left.unsettledBookings === 0 && left.unfinishedSagas === 0) ||
      Date.now() > deadline
    )
      return left;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * The booking invariants across the three databases, as a list of violations (empty when all hold): no seat
 * sold twice; the confirmed bookings are exactly the ones holding seats, with exactly one captured payment and a
 * valid ticket per seat; nothing captured or ticketed for any other booking; money conserved.
 */
export async function auditBookings(
  dbs: TestDatabases,
  o: { screeningId: number; moneyBefore: number },
): Promise<{ violations: string[] }> {
  const violations: string[] = [];
  const expectSame = (what: string, actual: string[], expected: string[]) => {
    const a = [...actual].sort();
    const e = [...expected].sort();
    if (a.join() !== e.join()) violations.push(`${what}: ${JSON.stringify(a)} ≠ ${JSON.stringify(e)}`);
  };
  const confirmed = await column(
    seatsOf(dbs),
    "SELECT id::text AS v FROM cinema.bookings WHERE screening_id = $1 AND status = 'confirmed'",
    [o.screeningId],
  );
  const doubleSold = await column(
    seatsOf(dbs),
    `SELECT seat_id::text AS v FROM cinema.booking_seats WHERE screening_id = $1 AND released_at IS NULL
      GROUP BY seat_id HAVING count(*) > 1`,
    [o.screeningId],
  );
  if (doubleSold.length > 0) violations.push(`seats sold twice: ${doubleSold.join(', ')}`);
  expectSame(
    'bookings holding seats vs confirmed',
    await column(
      seatsOf(dbs),
      `SELECT DISTINCT booking_id::text AS v FROM cinema.screening_seats
        WHERE screening_id = $1 AND booking_id IS NOT NULL`,
      [o.screeningId],
    ),
    confirmed,
  );
  // One captured payment per confirmed booking: a duplicate shows up twice in this list.
  expectSame(
    'captured payments vs confirmed',
    await column(
      paymentsOf(dbs),
      "SELECT booking_id::text AS v FROM cinema.payments WHERE status = 'captured'",
    ),
    confirmed,
  );
  expectSame(
    'bookings with valid tickets vs confirmed',
    await column(
      ticketsOf(dbs),
      "SELECT DISTINCT booking_id::text AS v FROM cinema.tickets WHERE screening_id = $1 AND status = 'valid'",
      [o.screeningId],
    ),
    confirmed,
  );
  const money = await moneyInSystem(paymentsOf(dbs));
  if (money !== o.moneyBefore)
    violations.push(`money not conserved: ${o.moneyBefore} before, ${money} after`);
  return { violations };
}
