import { isConnectionError } from '../db/queryable.js';
import { InDoubtError } from '../errors.js';
import { isSimulatedCrash } from '../faults.js';
import type { ResolvedCoordinatorOptions } from './coordinator-options.js';
import { commitDecisionAndCommitSql, insertDecision, type Outcome } from './decision-log.js';
import { fenceAbort } from './fence.js';
import type { ParticipantSession } from './participant-session.js';

/** The decision went to abort (the fence was lost, or the decision statement failed). `cause`: why. */
export class DecidedAbort extends Error {}

/** What writing the commit decision needs. */
export interface CommitDecisionInput {
  options: ResolvedCoordinatorOptions;
  transactionId: string;
  participants: string[];
  /** The log participant's open (unprepared) branch, when the decision rides in it. */
  carrier: ParticipantSession | undefined;
  /** Otherwise, a prepared branch on the log's pool whose idle connection can carry the decision insert. */
  onLogPool: ParticipantSession | undefined;
  /** The error a caller gets when recovery fenced the transaction off (it outlived its timeout). */
  timeoutError: () => Error;
}

/**
 * Makes the commit decision durable, after every other branch is prepared. Resolves when the decision is
 * commit; throws {@link DecidedAbort} when it is abort and {@link InDoubtError} when it cannot be known (recovery
 * settles it then).
 */
export async function writeCommitDecision(input: CommitDecisionInput): Promise<void> {
  const { options, transactionId, participants, carrier } = input;
  try {
    if (carrier) {
      // The decision rides in the log participant's own branch, which was not prepared: its local COMMIT *is*
      // the decision. Correct under presumed abort because (1) every other branch is prepared before it, so
      // a commit decision never precedes a prepare; (2) until that COMMIT, the row is invisible and the branch
      // dies with its connection, so a crash before it is an abort, and recovery's fence insert waits on the
      // uncommitted row rather than deciding past it; (3) if recovery's abort row landed first, the plain
      // INSERT fails, the COMMIT in the same string never runs, and the branch's work is rolled back too.
      await carrier.commit(
        commitDecisionAndCommitSql(options.schema, transactionId, options.id, participants),
      );
      return;
    }
    const insert = insertDecision(options.schema, 'commit', transactionId, options.id, participants);
    const { rowCount } = input.onLogPool
      ? await input.onLogPool.queryWhilePrepared(insert.text, insert.values)
      : await options.log.query(insert);
    // No row back: recovery's fenced abort got there first (the transaction outlived the prepare timeout).
    if ((rowCount ?? 0) === 0) throw new DecidedAbort('fenced', { cause: input.timeoutError() });
  } catch (error) {
    if (error instanceof DecidedAbort || isSimulatedCrash(error)) throw error;
    if (!isConnectionError(error)) {
      // The decision statement failed (for the carrier: also its branch); nothing was committed. A duplicate
      // decision key means recovery's fenced abort landed first: the transaction outlived its timeout.
      const fenced = (error as { constraint?: string }).constraint === 'two_phase_decisions_pkey';
      throw new DecidedAbort('decision failed', { cause: fenced ? input.timeoutError() : error });
    }
    const outcome = await settleUnknownDecision(input, error);
    if (outcome === 'abort') throw new DecidedAbort('decision lost', { cause: error });
  }
}

/** The connection broke while the decision was being written: fence it and obey whatever holds. */
async function settleUnknownDecision(input: CommitDecisionInput, error: unknown): Promise<Outcome> {
  const { options, transactionId } = input;
  try {
    return await fenceAbort(options.log, {
      schema: options.schema,
      transactionId,
      coordinatorId: options.id,
      participants: input.participants,
      lockTimeoutMs: options.prepareTimeoutMs,
    });
  } catch (fenceError) {
    throw new InDoubtError(
      `the commit decision of ${transactionId} could not be confirmed; recovery will settle it`,
      { cause: new AggregateError([error, fenceError]), context: { transactionId } },
    );
  }
}
