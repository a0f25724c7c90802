import type pg from 'pg';
import {
  deleteExpiredDecisions,
  type Outcome,
  selectOutcomes,
  selectPreparedTransactions,
} from '../two-phase/decision-log.js';
import type { RecoveredEvent } from '../two-phase/events.js';
import { fenceAbort } from '../two-phase/fence.js';
import { finishPrepared } from '../two-phase/finish-prepared.js';
import { gidPrefix, type ParsedGid, parseGid } from '../two-phase/gid.js';

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
  /** Resolve every txkit coordinator's gids on these databases, not only this coordinator's. */
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
    failed: [],
    unreachable: [],
    deletedDecisions: 0,
  };
  const branches = await scanParticipants(options, report);
  const byTransaction = new Map<string, Branch[]>();
  for (const branch of branches) {
    byTransaction.set(branch.transactionId, [...(byTransaction.get(branch.transactionId) ?? []), branch]);
  }
  const decided = await readDecisions(options, [...byTransaction.keys()]);

  for (const [transactionId, group] of byTransaction) {
    let outcome = decided.get(transactionId);
    if (!outcome) {
      // Prepared times come from the servers' own clocks; every prepare happens after the transaction began, so
      // once any branch is older than the prepare timeout the coordinator's deadline has passed.
      if (Math.max(...group.map((b) => b.ageMs)) < options.prepareTimeoutMs) {
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
      deleteExpiredDecisions(options.schema, options.coordinatorId, options.decisionRetentionMs, [
        ...byTransaction.keys(),
      ]),
    );
    report.deletedDecisions = rowCount ?? 0;
  }
  return report;
}

async function scanParticipants(options: InDoubtRecoveryOptions, report: RecoveryReport): Promise<Branch[]> {
  const prefix = gidPrefix(options.allCoordinators ? undefined : options.coordinatorId);
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
  });
}
