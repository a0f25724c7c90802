import type pg from 'pg';
import { ConfigurationError } from '../errors.js';
import {
  insertDecision,
  type Outcome,
  selectOutcomes,
  selectPreparedTransactions,
} from '../two-phase/decision-log.js';
import { fenceAbort } from '../two-phase/fence.js';
import { finishPrepared } from '../two-phase/finish-prepared.js';
import { gidPrefix, parseGid } from '../two-phase/gid.js';
import { overrideDecision } from '../two-phase/operator-decision-sql.js';
import type { CliSettings } from './cli-config.js';
import { describeError } from './output.js';
import { Refusal } from './refusal.js';

/** What `txkit resolve` did. */
export interface ResolveReport {
  gid: string;
  transactionId: string;
  outcome: Outcome;
  /** How the decision got into the log: it was there already, the operator's was inserted, or forced over another. */
  decision: 'existing' | 'recorded' | 'overridden';
  previous: Outcome | null;
  branches: {
    participant: string;
    gid: string;
    result: 'finished' | 'already-finished' | 'failed';
    error?: string;
  }[];
}

/**
 * Operator resolution of one transaction, given one of its gids. The decision goes into the log *first*, so
 * that recovery, a late coordinator and this command all act on the same outcome; then every branch of the
 * transaction that is still prepared on a configured participant is committed or rolled back.
 *
 * Refuses (throws) to contradict a recorded decision unless `force`, and refuses a commit with no recorded
 * decision unless `force`: under presumed abort, "no decision" may mean some branch never prepared, so
 * committing the others would make the transaction half-done. A commit with no decision is refused even with
 * `force` while the transaction is younger than the prepare timeout (its coordinator may still decide).
 */
export async function resolveTransaction(
  settings: CliSettings,
  participants: Map<string, pg.Pool>,
  log: pg.Pool,
  request: { gid: string; outcome: Outcome; force: boolean },
): Promise<ResolveReport> {
  const parsed = parseGid(request.gid);
  if (!parsed) {
    throw new ConfigurationError(
      `${JSON.stringify(request.gid)} is not a txkit gid (tx:<coordinator>:<transaction>:<participant>)`,
    );
  }
  const branches = await preparedBranchesOf(
    participants,
    `${gidPrefix(parsed.coordinatorId)}${parsed.transactionId}:`,
  );
  if (!branches.some((b) => b.gid === request.gid)) {
    throw new Refusal(`${request.gid} is not prepared on any configured participant`);
  }

  const { rows } = await log.query<{ outcome: Outcome }>(
    selectOutcomes(settings.schema, [parsed.transactionId]),
  );
  let previous = rows[0]?.outcome ?? null;
  let decision: ResolveReport['decision'] = 'existing';
  if (previous === null) {
    if (request.outcome === 'abort') {
      // The same fence as recovery: if the coordinator's commit insert is in flight, this waits for it and
      // returns 'commit'; otherwise the abort row lands and the coordinator, when it tries, must abort.
      const held = await fenceAbort(log, {
        schema: settings.schema,
        transactionId: parsed.transactionId,
        coordinatorId: parsed.coordinatorId,
        participants: [...new Set(branches.map((b) => parseGid(b.gid)?.participant ?? b.participant))],
        lockTimeoutMs: 5_000,
      });
      if (held === 'abort') decision = 'recorded';
      else previous = held;
    } else {
      // Even with --force: a coordinator still inside its prepare timeout may be about to write its own decision,
      // and would read the operator's commit row as recovery's abort (its insert conflicts) and roll back.
      const youngest = Math.min(...branches.map((b) => b.ageMs));
      if (youngest < settings.prepareTimeoutMs) {
        throw new Refusal(
          `transaction ${parsed.transactionId} prepared ${Math.round(youngest)} ms ago, within the prepare timeout ` +
            `(${settings.prepareTimeoutMs} ms): its coordinator may still decide. Wait, or use --abort (fenced).`,
        );
      }
      if (!request.force) {
        throw new Refusal(
          `no decision is recorded for transaction ${parsed.transactionId}, which means abort (presumed abort): ` +
            'a branch may never have prepared, and committing the others would leave the transaction half-done. ' +
            'Check every participant, then pass --force to commit anyway.',
        );
      }
      const inserted = await log.query(
        insertDecision(settings.schema, 'commit', parsed.transactionId, parsed.coordinatorId, [
          ...new Set(branches.map((b) => parseGid(b.gid)?.participant ?? b.participant)),
        ]),
      );
      if ((inserted.rowCount ?? 0) > 0) decision = 'recorded';
      else
        previous =
          (await log.query<{ outcome: Outcome }>(selectOutcomes(settings.schema, [parsed.transactionId])))
            .rows[0]?.outcome ?? null;
    }
  }
  if (previous !== null && previous !== request.outcome) {
    if (!request.force) {
      throw new Refusal(
        `transaction ${parsed.transactionId} is recorded as ${previous}; refusing to ${request.outcome} it ` +
          `(its other branches were or will be finished as ${previous}). Pass --force to override the log.`,
      );
    }
    await log.query(overrideDecision(settings.schema, parsed.transactionId, request.outcome));
    decision = 'overridden';
  }

  const results = await Promise.all(
    branches.map(async (branch): Promise<ResolveReport['branches'][number]> => {
      const pool = participants.get(branch.participant)!;
      try {
        const result = await finishPrepared((sql) => pool.query(sql), branch.gid, request.outcome);
        return { participant: branch.participant, gid: branch.gid, result };
      } catch (error) {
        return {
          participant: branch.participant,
          gid: branch.gid,
          result: 'failed',
          error: describeError(error),
        };
      }
    }),
  );
  return {
    gid: request.gid,
    transactionId: parsed.transactionId,
    outcome: request.outcome,
    decision,
    previous,
    branches: results,
  };
}

/** The prepared branches (gid and holding participant) whose gid starts with `prefix`, on every participant. */
async function preparedBranchesOf(
  participants: Map<string, pg.Pool>,
  prefix: string,
): Promise<{ participant: string; gid: string; ageMs: number }[]> {
  const found = await Promise.all(
    [...participants].map(async ([participant, pool]) => {
      const { rows } = await pool.query<{ gid: string; age_ms: number }>(selectPreparedTransactions(prefix));
      return rows.map((row) => ({ participant, gid: row.gid, ageMs: row.age_ms }));
    }),
  );
  return found.flat();
}
