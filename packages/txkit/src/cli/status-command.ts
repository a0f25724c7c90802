import type pg from 'pg';
import { type SagaStatusRow, selectSagaLogExists, selectUnfinishedSagas } from '../saga/saga-status-sql.js';
import {
  type Outcome,
  selectCoordinators,
  selectOutcomes,
  selectPreparedTransactions,
} from '../two-phase/decision-log.js';
import { type ParsedGid, parseGid } from '../two-phase/gid.js';
import type { CliSettings } from './cli-config.js';
import { describeError } from './output.js';

/** 42P01: the decision log table is not there (not migrated in that schema). */
const UNDEFINED_TABLE = '42P01';

/**
 * What a prepared branch is waiting for:
 * - `in-flight`: no decision yet and younger than the prepare timeout — its coordinator may still decide;
 * - `in-doubt`: no decision and older than the prepare timeout — recovery will abort it (presumed abort);
 * - `commit-pending` / `abort-pending`: decided, COMMIT/ROLLBACK PREPARED not done yet (recovery finishes it);
 * - `foreign`: not a txkit gid (another tool's); txkit never touches it.
 */
export type BranchState = 'in-flight' | 'in-doubt' | 'commit-pending' | 'abort-pending' | 'foreign';

/** One row of `pg_prepared_xacts` as `txkit status` reports it. */
export interface PreparedBranchStatus {
  participant: string;
  gid: string;
  ageMs: number;
  transactionId: string | null;
  coordinatorId: string | null;
  decision: Outcome | null;
  state: BranchState;
  /** Whether an operator should look at it now. */
  attention: boolean;
}

/**
 * A coordinator known to the decision log (`two_phase_coordinators`): `alive` while its lease holds. A dead one's
 * prepared branches are taken over by the recovery of the live ones; an operator acts only when none is alive.
 */
export interface CoordinatorStatus {
  coordinatorId: string;
  /** Host and pid it ran as. */
  process: string;
  alive: boolean;
  /** Time left on its lease; negative: expired that long ago. */
  leaseMs: number;
  /** Its prepared branches seen on the participants. */
  prepared: number;
}

/** Everything `txkit status` found. */
export interface StatusReport {
  prepared: PreparedBranchStatus[];
  /** The coordinators the decision log knows (empty when it is missing). */
  coordinators: CoordinatorStatus[];
  unreachable: { participant: string; error: string }[];
  /** Null when the decision log has not been created in that schema (`txkit migrate`). */
  decisionLog: 'ok' | 'missing';
  /** Null when there is no saga log in that schema. */
  sagas: (SagaStatusRow & { attention: boolean })[] | null;
  attention: boolean;
}

/** Reads the state of both protocols; never writes. */
export async function collectStatus(
  settings: CliSettings,
  participants: Map<string, pg.Pool>,
  log: pg.Pool,
  sagaLog: pg.Pool,
  sagaLimit: number,
): Promise<StatusReport> {
  const unreachable: StatusReport['unreachable'] = [];
  const scans = await Promise.all(
    [...participants].map(async ([participant, pool]) => {
      try {
        // Every prepared transaction of the database, txkit's or not: a foreign one holds locks all the same.
        const { rows } = await pool.query<{ gid: string; age_ms: number }>(selectPreparedTransactions(''));
        return rows.map((row) => ({
          participant,
          gid: row.gid,
          ageMs: row.age_ms,
          parsed: parseGid(row.gid),
        }));
      } catch (error) {
        unreachable.push({ participant, error: describeError(error) });
        return [];
      }
    }),
  );
  const branches = scans
    .flat()
    .filter(
      (b) => settings.coordinatorId === undefined || b.parsed?.coordinatorId === settings.coordinatorId,
    );

  const ids = [...new Set(branches.flatMap((b) => (b.parsed ? [b.parsed.transactionId] : [])))];
  let decisions = new Map<string, Outcome>();
  let decisionLog: StatusReport['decisionLog'] = 'ok';
  try {
    // Also run with no ids: it is how a missing decision log shows up.
    const { rows } = await log.query<{ transaction_id: string; outcome: Outcome }>(
      selectOutcomes(settings.schema, ids),
    );
    decisions = new Map(rows.map((r) => [r.transaction_id, r.outcome]));
  } catch (error) {
    if ((error as { code?: string }).code !== UNDEFINED_TABLE) throw error;
    decisionLog = 'missing';
  }

  const coordinators = decisionLog === 'ok' ? await readCoordinators(settings.schema, log, branches) : [];
  const prepared = branches.map((b): PreparedBranchStatus => {
    const decision = b.parsed ? (decisions.get(b.parsed.transactionId) ?? null) : null;
    const old = b.ageMs >= settings.prepareTimeoutMs;
    const state: BranchState = !b.parsed
      ? 'foreign'
      : decision === 'commit'
        ? 'commit-pending'
        : decision === 'abort'
          ? 'abort-pending'
          : old
            ? 'in-doubt'
            : 'in-flight';
    return {
      participant: b.participant,
      gid: b.gid,
      ageMs: b.ageMs,
      transactionId: b.parsed?.transactionId ?? null,
      coordinatorId: b.parsed?.coordinatorId ?? null,
      decision,
      state,
      // A prepared branch holds its locks until it is finished: any one older than the timeout blocks writers.
      attention: old,
    };
  });

  const sagas = await readSagas(settings.schema, sagaLog, sagaLimit);
  return {
    prepared,
    coordinators,
    unreachable,
    decisionLog,
    sagas,
    attention:
      unreachable.length > 0 ||
      prepared.some((p) => p.attention) ||
      (sagas?.some((s) => s.attention) ?? false),
  };
}

async function readCoordinators(
  schema: string,
  log: pg.Pool,
  branches: { parsed: ParsedGid | undefined }[],
): Promise<CoordinatorStatus[]> {
  try {
    const { rows } = await log.query<{ coordinator_id: string; process: string; lease_ms: number }>(
      selectCoordinators(schema),
    );
    return rows.map((row) => ({
      coordinatorId: row.coordinator_id,
      process: row.process,
      alive: row.lease_ms > 0,
      leaseMs: row.lease_ms,
      prepared: branches.filter((b) => b.parsed?.coordinatorId === row.coordinator_id).length,
    }));
  } catch (error) {
    // A decision log from before leases (not migrated since): no coordinator is known.
    if ((error as { code?: string }).code === UNDEFINED_TABLE) return [];
    throw error;
  }
}

async function readSagas(schema: string, pool: pg.Pool, limit: number): Promise<StatusReport['sagas']> {
  const { rows: exists } = await pool.query<{ exists: boolean }>(selectSagaLogExists(schema));
  if (!exists[0]?.exists) return null;
  const { rows } = await pool.query<SagaStatusRow>(selectUnfinishedSagas(schema, limit));
  // A failed saga waits for an operator; a running one whose lease ran out waits for a recovery pass.
  return rows.map((row) => ({ ...row, attention: row.status === 'failed' || row.lease_expired }));
}
