import type pg from 'pg';
import {
  deleteDeadCoordinators,
  deleteExpiredDecisions,
  type Outcome,
  selectLeases,
  selectOutcomes,
  selectPreparedTransactions,
} from './decision-log.js';
import type { RecoveredEvent } from './events.js';
import { fenceAbort } from './fence.js';
import { finishPrepared } from './finish-prepared.js';
import { gidPrefix, type ParsedGid, parseGid } from './gid.js';

/**
 * What one recovery pass needs (the coordinator fills it in from its own options).
 *
 * @example
 * await resolveInDoubt({ coordinatorId: 'api-1', participants, log, schema: 'txkit', prepareTimeoutMs: 10_000,
 *   decisionRetentionMs: 86_400_000, allCoordinators: false, onRecovered: () => {} });
 */
export interface InDoubtRecoveryOptions {
  coordinatorId: string;
  participants: ReadonlyMap<string, pg.Pool>;
  log: pg.Pool;
  schema: string;
  prepareTimeoutMs: number;
  decisionRetentionMs: number;
  /**
   * Also resolve the gids of coordinators this log does not know (no lease row), as if their decisions were in
   * this log. By default those are only reported (`unowned`): their decisions may live in another log.
   */
  allCoordinators: boolean;
  /** Called once per branch this pass finished (the coordinator turns it into its `recovered` event). */
  onRecovered(event: RecoveredEvent): void;
}

/**
 * What one recovery pass did. Gids listed under `committed` / `aborted` were finished by this pass.
 *
 * @example
 * const report = await coordinator.recover();
 * if (report.failed.length > 0) log.warn(report.failed, 'in-doubt branches left for the next pass');
 */
export interface RecoveryReport {
  committed: string[];
  aborted: string[];
  /** Undecided branches younger than the prepare timeout: their coordinator may still decide. */
  waiting: string[];
  /** Other coordinators whose lease expired and whose prepared branches this pass took over. */
  takenOver: string[];
  /**
   * Branches of coordinators this decision log does not know (no lease row): left alone, for an operator
   * (`txkit status`, `txkit resolve`) or `recover({ allCoordinators: true })`.
   */
  unowned: string[];
  /** Branches that could not be finished this pass (busy, connection lost, fence timed out). */
  failed: { gid: string; participant: string; error: unknown }[];
  /** Participants whose prepared transactions could not be listed. */
  unreachable: { participant: string; error: unknown }[];
  /** Expired decision rows deleted (0 when a participant was unreachable: then nothing is deleted). */
  deletedDecisions: number;
}

interface Branch extends ParsedGid {
  gid: string;
  /** The configured participant whose database holds the branch (may differ from the gid's name). */
  holder: string;
  ageMs: number;
}

/**
 * One recovery pass over every participant: commits branches whose transaction decided commit, aborts (fenced)
 * undecided ones older than the prepare timeout, and deletes expired decision rows. Safe to run in several
 * processes at once: the fence gives every transaction one decision, and finishing a branch someone else
 * already finished is a no-op ("does not exist"). Most code calls {@link TwoPhaseCoordinator.recover} instead.
 *
 * @example
 * const report = await resolveInDoubt(options);
 * console.log(report.committed, report.aborted);
 */
export async function resolveInDoubt(options: InDoubtRecoveryOptions): Promise<RecoveryReport> {
  const report: RecoveryReport = {
    committed: [],
    aborted: [],
    waiting: [],
    takenOver: [],
    unowned: [],
    failed: [],
    unreachable: [],
    deletedDecisions: 0,
  };
  const branches = await scanParticipants(options, report);
  const byTransaction = new Map<string, Branch[]>();
  for (const branch of branches) {
    byTransaction.set(branch.transactionId, [...(byTransaction.get(branch.transactionId) ?? []), branch]);
  }
  const owners = await readOwners(options, branches);
  /** The transactions this pass finishes, with the grace their undecided branches get. */
  const mine = new Map<string, { group: Branch[]; graceMs: number }>();
  for (const [transactionId, group] of byTransaction) {
    const owner = owners.get(group[0]!.coordinatorId);
    if (owner === 'live') continue; // its own recovery finishes it
    if (owner === 'unknown' && !options.allCoordinators) {
      report.unowned.push(...group.map((b) => b.gid));
      continue;
    }
    const dead = typeof owner === 'object';
    mine.set(transactionId, {
      group,
      graceMs: Math.max(options.prepareTimeoutMs, dead ? owner.prepareTimeoutMs : 0),
    });
    if (dead && !report.takenOver.includes(group[0]!.coordinatorId)) {
      report.takenOver.push(group[0]!.coordinatorId);
    }
  }
  const decided = await readDecisions(options, [...mine.keys()]);

  for (const [transactionId, { group, graceMs }] of mine) {
    let outcome = decided.get(transactionId);
    if (!outcome) {
      // Prepared times come from the servers' own clocks; every prepare happens after the transaction began, so
      // once any branch is older than the prepare timeout the coordinator's deadline has passed. A dead
      // coordinator's branches get the same grace: one that only lost its lease (paused, cut off from the log)
      // may still be running them, and its own timeout would abort them anyway.
      if (Math.max(...group.map((b) => b.ageMs)) < graceMs) {
        report.waiting.push(...group.map((b) => b.gid));
        continue;
      }
      try {
        outcome = await fenceAbort(options.log, {
          schema: options.schema,
          transactionId,
          coordinatorId: group[0]!.coordinatorId,
          participants: [...new Set(group.map((b) => b.participant))],
          lockTimeoutMs: Math.min(options.prepareTimeoutMs, 5_000),
        });
      } catch (error) {
        for (const b of group) report.failed.push({ gid: b.gid, participant: b.holder, error });
        continue;
      }
    }
    await Promise.all(group.map((branch) => finishBranch(options, branch, outcome, report)));
  }

  // Only with a complete scan: a commit row may be deleted only when no branch of it is prepared anywhere.
  if (report.unreachable.length === 0) {
    const { rowCount } = await options.log.query(
      deleteExpiredDecisions(
        options.schema,
        options.coordinatorId,
        options.decisionRetentionMs,
        [...byTransaction.keys()],
        [...options.participants.keys()],
      ),
    );
    report.deletedDecisions = rowCount ?? 0;
    await options.log.query(
      deleteDeadCoordinators(options.schema, options.decisionRetentionMs, [...owners.keys()]),
    );
  }
  return report;
}

/** Who may finish a coordinator's branches: this pass (`mine`, or a dead owner to take over) or nobody here. */
type Owner = 'mine' | 'live' | 'unknown' | { prepareTimeoutMs: number };

/** The owner of every coordinator id seen in the scan, from the leases in the decision log. */
async function readOwners(options: InDoubtRecoveryOptions, branches: Branch[]): Promise<Map<string, Owner>> {
  const ids = [...new Set(branches.map((b) => b.coordinatorId))];
  const owners = new Map<string, Owner>(
    ids.map((id) => [id, id === options.coordinatorId ? 'mine' : 'unknown']),
  );
  const others = ids.filter((id) => id !== options.coordinatorId);
  if (others.length === 0) return owners;
  const { rows } = await options.log.query<{
    coordinator_id: string;
    expired: boolean;
    prepare_timeout_ms: number;
  }>(selectLeases(options.schema, others));
  for (const row of rows) {
    owners.set(row.coordinator_id, row.expired ? { prepareTimeoutMs: row.prepare_timeout_ms } : 'live');
  }
  return owners;
}

async function scanParticipants(options: InDoubtRecoveryOptions, report: RecoveryReport): Promise<Branch[]> {
  // Every txkit gid: this coordinator's, and those of others that may have died (see readOwners).
  const prefix = gidPrefix();
  const scans = await Promise.all(
    [...options.participants].map(async ([holder, pool]) => {
      try {
        const { rows } = await pool.query<{ gid: string; age_ms: number }>(
          selectPreparedTransactions(prefix),
        );
        // Strict parsing: a gid that is not exactly ours (another tool's, a look-alike) is never touched.
        return rows.flatMap((row) => {
          const parsed = parseGid(row.gid);
          return parsed ? [{ ...parsed, gid: row.gid, holder, ageMs: row.age_ms }] : [];
        });
      } catch (error) {
        report.unreachable.push({ participant: holder, error });
        return [];
      }
    }),
  );
  return scans.flat();
}

async function readDecisions(
  options: InDoubtRecoveryOptions,
  transactionIds: string[],
): Promise<Map<string, Outcome>> {
  if (transactionIds.length === 0) return new Map();
  const { rows } = await options.log.query<{ transaction_id: string; outcome: Outcome }>(
    selectOutcomes(options.schema, transactionIds),
  );
  return new Map(rows.map((r) => [r.transaction_id, r.outcome]));
}

async function finishBranch(
  options: InDoubtRecoveryOptions,
  branch: Branch,
  outcome: Outcome,
  report: RecoveryReport,
): Promise<void> {
  const pool = options.participants.get(branch.holder)!;
  try {
    // 'already-finished' means another recoverer or the coordinator did the same thing first: not ours to report.
    if ((await finishPrepared((sql) => pool.query(sql), branch.gid, outcome)) === 'already-finished') return;
  } catch (error) {
    report.failed.push({ gid: branch.gid, participant: branch.holder, error });
    return;
  }
  (outcome === 'commit' ? report.committed : report.aborted).push(branch.gid);
  options.onRecovered({
    gid: branch.gid,
    transactionId: branch.transactionId,
    participant: branch.holder,
    outcome,
    coordinatorId: branch.coordinatorId,
    takeover: branch.coordinatorId !== options.coordinatorId,
  });
}
