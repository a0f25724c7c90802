import type pg from 'pg';
import { expect } from 'vitest';
import type { FaultHook, FaultPoint } from '../../src/faults.js';
import { SimulatedCrash } from '../../src/faults.js';
import { listPreparedTransactions, type TestDatabases } from '../../src/testing/index.js';
import { TwoPhaseCoordinator } from '../../src/two-phase/coordinator.js';
import type { TwoPhaseCoordinatorOptions } from '../../src/two-phase/coordinator-options.js';
import type { TwoPhaseTransaction } from '../../src/two-phase/transaction-run.js';

/** Participant name → test instance: seats on a, payments on b, tickets on c. */
export const PARTICIPANTS = { seats: 'a', payments: 'b', tickets: 'c' } as const;
export type ParticipantName = keyof typeof PARTICIPANTS;
export const NAMES = Object.keys(PARTICIPANTS) as ParticipantName[];

/** Where the decision log lives: in the seats participant's pool (decision rides in its branch), or apart. */
export type LogMode = 'in-participant' | 'separate';

/** One `bookings` table per database; a transaction writes one row (key = its label) to each it touches. */
export async function createBookingTables(dbs: TestDatabases): Promise<void> {
  for (const db of dbs.databases) {
    await db.pool.query(
      'CREATE TABLE IF NOT EXISTS bookings (key text PRIMARY KEY, note text, checked int CHECK (checked >= 0))',
    );
  }
}

/** The pools per participant name. */
export function participantPools(dbs: TestDatabases): Record<ParticipantName, pg.Pool> {
  return {
    seats: dbs.on(PARTICIPANTS.seats).pool,
    payments: dbs.on(PARTICIPANTS.payments).pool,
    tickets: dbs.on(PARTICIPANTS.tickets).pool,
  };
}

/** Coordinator options for a log mode; `separate` uses its own pool on the seats database. */
export function coordinatorOptions(
  dbs: TestDatabases,
  mode: LogMode,
  extra: Partial<TwoPhaseCoordinatorOptions> & { id: string; separateLog?: pg.Pool },
): TwoPhaseCoordinatorOptions {
  const participants = participantPools(dbs);
  const { separateLog, ...rest } = extra;
  return {
    participants,
    log: mode === 'in-participant' ? participants.seats : (separateLog ?? participants.seats),
    decisionInLogParticipant: mode === 'in-participant',
    schema: 'txkit',
    prepareTimeoutMs: 1_000,
    ...rest,
  };
}

/** The booking write: one row per touched participant, keyed by `key`. */
export function writeBooking(key: string, names: readonly ParticipantName[] = NAMES) {
  return async (tx: TwoPhaseTransaction) => {
    await Promise.all(
      names.map((n) => tx.query(n, 'INSERT INTO bookings (key, note) VALUES ($1, $2)', [key, n])),
    );
    return key;
  };
}

/** How many of the databases hold the booking `key`. */
export async function copiesOf(dbs: TestDatabases, key: string): Promise<number> {
  let n = 0;
  for (const db of dbs.databases) {
    n += (await db.pool.query('SELECT 1 FROM bookings WHERE key = $1', [key])).rowCount ?? 0;
  }
  return n;
}

/** The prepared transactions left in the test databases. */
export async function preparedLeft(dbs: TestDatabases): Promise<string[]> {
  const all = await Promise.all(dbs.databases.map((db) => listPreparedTransactions(db.pool, db.database)));
  return all.flat().map((t) => t.gid);
}

/** All-or-nothing across the three databases, and no prepared transaction left. */
export async function expectSettled(dbs: TestDatabases, key: string, copies: 0 | 3): Promise<void> {
  expect(await preparedLeft(dbs)).toEqual([]);
  expect(await copiesOf(dbs, key)).toBe(copies);
}

/** A fault hook that crashes the "process" at `point` (for one participant, if given). */
export function crashAt(point: FaultPoint, participant?: string): FaultHook {
  return (site) => {
    if (site.point === point && (participant === undefined || site.participant === participant)) {
      throw new SimulatedCrash(site);
    }
  };
}

/** Runs recovery passes until nothing of ours is prepared (or the deadline passes); returns the reports. */
export async function recoverUntilClean(
  coordinator: TwoPhaseCoordinator,
  dbs: TestDatabases,
  maxMs = 10_000,
) {
  const reports = [];
  const deadline = Date.now() + maxMs;
  for (;;) {
    reports.push(await coordinator.recover());
    if ((await preparedLeft(dbs)).length === 0 || Date.now() > deadline) return reports;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Ends a coordinator's lease in the log, as its expiry does once a dead process stops renewing it: from now on
 * any other coordinator's recovery takes over its branches.
 */
export async function expireLease(dbs: TestDatabases, coordinatorId: string): Promise<void> {
  await dbs
    .on(PARTICIPANTS.seats)
    .pool.query('UPDATE txkit.two_phase_coordinators SET lease_until = now() WHERE coordinator_id = $1', [
      coordinatorId,
    ]);
}

/** A new coordinator, migrated. */
export async function startCoordinator(options: TwoPhaseCoordinatorOptions): Promise<TwoPhaseCoordinator> {
  const coordinator = new TwoPhaseCoordinator(options);
  await coordinator.migrate();
  return coordinator;
}
