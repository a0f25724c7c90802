import type pg from 'pg';
import type { AuditReport } from '../library/audit.js';
import type { BenchDatabases } from '../library/booking-mode.js';
import { moneyInSystem } from './demo-fixtures.js';

async function idSet(pool: pg.Pool, sql: string, values: unknown[]): Promise<Set<string>> {
  const { rows } = await pool.query<{ id: string }>(sql, values);
  return new Set(rows.map((r) => r.id));
}

async function count(pool: pg.Pool, sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(sql, values);
  return rows[0]?.n ?? 0;
}

/** Waits until no booking of the screening is pending (recovery and the stale-booking sweep finish them). */
export async function settleBookings(
  dbs: BenchDatabases,
  screeningId: number,
  timeoutMs: number,
): Promise<number> {
  let pending = 0;
  for (const started = Date.now(); Date.now() - started < timeoutMs; ) {
    pending = await count(
      dbs.seats,
      "SELECT count(*)::int AS n FROM cinema.bookings WHERE screening_id = $1 AND status IN ('pending', 'cancelling')",
      [screeningId],
    );
    const prepared = await Promise.all(
      Object.values(dbs).map((p: pg.Pool) => count(p, 'SELECT count(*)::int AS n FROM pg_prepared_xacts')),
    );
    if (pending === 0 && prepared.every((n) => n === 0)) return 0;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return pending;
}

const difference = (a: Set<string>, b: Set<string>) => [...a].filter((x) => !b.has(x));

/**
 * Audits the demo's databases after an e2e cell, for the cell's screening and the payments made since it
 * started: no seat sold twice; the bookings the API confirmed are exactly those holding seats, with one captured
 * payment and a valid ticket each; rejected ones have none (refunded and voided count as none); money conserved
 * (wallets + captured payments unchanged); nothing pending, no prepared transaction, no saga unfinished.
 */
export async function auditDemo(
  dbs: BenchDatabases,
  cell: {
    screeningId: number;
    since: Date;
    moneyBefore: number;
    confirmedAnswers?: number;
    pendingLeft: number;
  },
): Promise<AuditReport> {
  const violations: string[] = [];
  const report = (label: string, list: string[]) => {
    if (list.length > 0) violations.push(`${list.length} ${label} (e.g. ${list[0]})`);
  };
  const twice = await idSet(
    dbs.seats,
    `SELECT seat_id::text AS id FROM cinema.booking_seats WHERE screening_id = $1 AND released_at IS NULL
      GROUP BY seat_id HAVING count(*) > 1`,
    [cell.screeningId],
  );
  report('seats sold twice', [...twice]);
  const confirmed = await idSet(
    dbs.seats,
    "SELECT id::text AS id FROM cinema.bookings WHERE screening_id = $1 AND status = 'confirmed'",
    [cell.screeningId],
  );
  const holding = await idSet(
    dbs.seats,
    'SELECT booking_id::text AS id FROM cinema.screening_seats WHERE screening_id = $1 AND booking_id IS NOT NULL',
    [cell.screeningId],
  );
  const captured = await idSet(
    dbs.payments,
    "SELECT booking_id::text AS id FROM cinema.payments WHERE status = 'captured' AND created_at >= $1",
    [cell.since],
  );
  const refunded = await idSet(
    dbs.payments,
    "SELECT booking_id::text AS id FROM cinema.payments WHERE status = 'refunded' AND created_at >= $1",
    [cell.since],
  );
  const valid = await idSet(
    dbs.tickets,
    "SELECT DISTINCT booking_id::text AS id FROM cinema.tickets WHERE screening_id = $1 AND status = 'valid'",
    [cell.screeningId],
  );
  const voided = await idSet(
    dbs.tickets,
    "SELECT DISTINCT booking_id::text AS id FROM cinema.tickets WHERE screening_id = $1 AND status = 'void'",
    [cell.screeningId],
  );
  report('confirmed bookings holding no seat', difference(confirmed, holding));
  report('seats held by a booking not confirmed', difference(holding, confirmed));
  report('confirmed bookings without a captured payment', difference(confirmed, captured));
  report('captured payments of bookings not confirmed', difference(captured, confirmed));
  report('confirmed bookings without a valid ticket', difference(confirmed, valid));
  report('valid tickets of bookings not confirmed', difference(valid, confirmed));
  if (cell.confirmedAnswers !== undefined && cell.confirmedAnswers !== confirmed.size)
    violations.push(
      `the API answered ${cell.confirmedAnswers} confirmed, the databases hold ${confirmed.size}`,
    );
  const money = await moneyInSystem(dbs);
  if (money !== cell.moneyBefore)
    violations.push(`money not conserved: ${cell.moneyBefore} before, ${money} after`);
  if (cell.pendingLeft > 0)
    violations.push(`${cell.pendingLeft} bookings still pending after the settle time`);
  let preparedLeft = 0;
  for (const pool of Object.values(dbs) as pg.Pool[])
    preparedLeft += await count(pool, 'SELECT count(*)::int AS n FROM pg_prepared_xacts');
  if (preparedLeft > 0) violations.push(`${preparedLeft} prepared transactions left`);
  const hasSagaLog = (await count(dbs.seats, "SELECT (to_regclass('txkit.saga') IS NOT NULL)::int AS n")) > 0;
  const sagasUnfinished = hasSagaLog
    ? await count(
        dbs.seats,
        "SELECT count(*)::int AS n FROM txkit.saga WHERE status IN ('running', 'compensating', 'failed')",
      )
    : 0;
  if (sagasUnfinished > 0) violations.push(`${sagasUnfinished} sagas unfinished`);
  return {
    seatsTaken: holding.size,
    payments: captured.size,
    tickets: valid.size,
    refunded: refunded.size,
    voided: voided.size,
    preparedLeft,
    sagasUnfinished,
    violations,
  };
}
