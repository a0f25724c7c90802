import type pg from 'pg';
import type { BenchDatabases, BookingMode } from './booking-mode.js';

/** What the audit found after one measurement cell. An empty `violations` list means consistent. */
export interface AuditReport {
  seatsTaken: number;
  payments: number;
  tickets: number;
  preparedLeft: number;
  violations: string[];
}

async function ids(pool: pg.Pool, sql: string): Promise<Set<string>> {
  const { rows } = await pool.query<{ booking_id: string }>(sql);
  return new Set(rows.map((r) => r.booking_id));
}

function difference(a: Set<string>, b: Set<string>): string[] {
  return [...a].filter((x) => !b.has(x));
}

/**
 * Checks the three databases after a cell: every taken seat has exactly one live payment and one live ticket for
 * the same booking and vice versa (uniqueness is enforced by constraints), the number of confirmed bookings
 * matches, and no prepared transaction is left behind.
 */
export async function auditBookings(
  dbs: BenchDatabases,
  mode: BookingMode,
  confirmed: number,
): Promise<AuditReport> {
  const at = (table: 'payments' | 'tickets') => (mode.singleDatabase ? dbs.seats : dbs[table]);
  const seats = await ids(dbs.seats, 'SELECT booking_id FROM seats WHERE booking_id IS NOT NULL');
  const payments = await ids(at('payments'), "SELECT booking_id FROM payments WHERE status = 'captured'");
  const tickets = await ids(at('tickets'), "SELECT booking_id FROM tickets WHERE status = 'issued'");
  let preparedLeft = 0;
  for (const pool of [dbs.seats, dbs.payments, dbs.tickets]) {
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_prepared_xacts WHERE database = current_database()',
    );
    preparedLeft += rows[0]?.n ?? 0;
  }
  const violations: string[] = [];
  const report = (label: string, list: string[]) => {
    if (list.length > 0) violations.push(`${list.length} ${label} (e.g. ${list[0]})`);
  };
  report('seats taken without a payment', difference(seats, payments));
  report('seats taken without a ticket', difference(seats, tickets));
  report('payments without a seat', difference(payments, seats));
  report('tickets without a seat', difference(tickets, seats));
  if (seats.size !== confirmed)
    violations.push(`${confirmed} bookings confirmed but ${seats.size} seats taken`);
  if (preparedLeft > 0) violations.push(`${preparedLeft} prepared transactions left`);
  return { seatsTaken: seats.size, payments: payments.size, tickets: tickets.size, preparedLeft, violations };
}
