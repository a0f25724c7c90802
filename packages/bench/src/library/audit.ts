import type pg from 'pg';
import type { BenchDatabases, BookingMode } from './booking-mode.js';

/** What the audit found after one measurement cell. An empty `violations` list means consistent. */
export interface AuditReport {
  seatsTaken: number;
  /** Captured payments (refunded ones count as none). */
  payments: number;
  /** Issued tickets (voided ones count as none). */
  tickets: number;
  refunded: number;
  voided: number;
  preparedLeft: number;
  /**
   * Sagas not finished (running, compensating, or failed) in the seats database's saga log, and DBOS workflows not
   * in SUCCESS in its system tables, where they exist.
   */
  sagasUnfinished: number;
  violations: string[];
}

async function ids(pool: pg.Pool, sql: string): Promise<Set<string>> {
  const { rows } = await pool.query<{ booking_id: string }>(sql);
  return new Set(rows.map((r) => r.booking_id));
}

async function count(pool: pg.Pool, sql: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(sql);
  return rows[0]?.n ?? 0;
}

// A log's unfinished entries, or 0 when the log's table does not exist (no mode that writes it has run).
async function unfinishedIfTable(pool: pg.Pool, schema: string, table: string, sql: string): Promise<number> {
  const exists = await count(
    pool,
    `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = '${schema}' AND tablename = '${table}'`,
  );
  return exists > 0 ? count(pool, sql) : 0;
}

function difference(a: Set<string>, b: Set<string>): string[] {
  return [...a].filter((x) => !b.has(x));
}

/**
 * Checks the three databases after a cell: every taken seat has exactly one captured payment and one issued
 * ticket for the same booking and vice versa (uniqueness is enforced by constraints) — so a declined or
 * refused booking has none, or only a refunded payment and a voided ticket; a refunded payment's ticket is
 * voided; the number of confirmed bookings matches (when known: a killed process's count is not); no prepared
 * transaction is left; no saga or DBOS workflow is left unfinished. Money: the library-level schema has no wallets, so money is
 * conserved exactly when every captured payment belongs to a sold seat, which the first rule checks.
 *
 * @example
 * const { violations } = await auditBookings(dbs, mode, { confirmed: 120 });
 */
export async function auditBookings(
  dbs: BenchDatabases,
  mode: BookingMode,
  expected: number | { confirmed?: number },
): Promise<AuditReport> {
  const confirmed = typeof expected === 'number' ? expected : expected.confirmed;
  const at = (table: 'payments' | 'tickets') => (mode.singleDatabase ? dbs.seats : dbs[table]);
  const seats = await ids(dbs.seats, 'SELECT booking_id FROM seats WHERE booking_id IS NOT NULL');
  const payments = await ids(at('payments'), "SELECT booking_id FROM payments WHERE status = 'captured'");
  const tickets = await ids(at('tickets'), "SELECT booking_id FROM tickets WHERE status = 'issued'");
  const refunded = await ids(at('payments'), "SELECT booking_id FROM payments WHERE status = 'refunded'");
  const voided = await ids(at('tickets'), "SELECT booking_id FROM tickets WHERE status = 'void'");
  const { preparedLeft, sagasUnfinished } = await unfinishedWork(dbs);
  const violations: string[] = [];
  const report = (label: string, list: string[]) => {
    if (list.length > 0) violations.push(`${list.length} ${label} (e.g. ${list[0]})`);
  };
  report('seats taken without a payment', difference(seats, payments));
  report('seats taken without a ticket', difference(seats, tickets));
  report('payments without a seat (money taken for nothing)', difference(payments, seats));
  report('tickets without a seat', difference(tickets, seats));
  report(
    'refunded payments whose ticket is still issued',
    [...refunded].filter((id) => tickets.has(id)),
  );
  if (confirmed !== undefined && seats.size !== confirmed)
    violations.push(`${confirmed} bookings confirmed but ${seats.size} seats taken`);
  if (preparedLeft > 0) violations.push(`${preparedLeft} prepared transactions left`);
  if (sagasUnfinished > 0) violations.push(`${sagasUnfinished} sagas unfinished`);
  return {
    seatsTaken: seats.size,
    payments: payments.size,
    tickets: tickets.size,
    refunded: refunded.size,
    voided: voided.size,
    preparedLeft,
    sagasUnfinished,
    violations,
  };
}

/**
 * What is still in flight in the three databases: prepared transactions, and sagas or DBOS workflows not finished.
 * Cheap (counts only): the crash cell asks it repeatedly while it waits to kill a process with work in flight.
 *
 * @example
 * const { preparedLeft, sagasUnfinished } = await unfinishedWork(dbs);
 */
export async function unfinishedWork(
  dbs: BenchDatabases,
): Promise<{ preparedLeft: number; sagasUnfinished: number }> {
  let preparedLeft = 0;
  for (const pool of [dbs.seats, dbs.payments, dbs.tickets]) {
    preparedLeft += await count(
      pool,
      'SELECT count(*)::int AS n FROM pg_prepared_xacts WHERE database = current_database()',
    );
  }
  const sagasUnfinished =
    (await unfinishedIfTable(
      dbs.seats,
      'txkit',
      'saga',
      "SELECT count(*)::int AS n FROM txkit.saga WHERE status IN ('running', 'compensating', 'failed')",
    )) +
    // The dbos mode's workflows: anything but SUCCESS is a booking DBOS did not finish.
    (await unfinishedIfTable(
      dbs.seats,
      'dbos',
      'workflow_status',
      "SELECT count(*)::int AS n FROM dbos.workflow_status WHERE status <> 'SUCCESS'",
    ));
  return { preparedLeft, sagasUnfinished };
}
