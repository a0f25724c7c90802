import type pg from 'pg';
import { withClient } from '../db/queryable.js';
import { InDoubtError } from '../errors.js';
import { insertDecision, type Outcome, selectOutcomes } from './decision-log.js';

/** What {@link fenceAbort} needs to know about the transaction. */
export interface FenceTarget {
  schema: string;
  transactionId: string;
  coordinatorId: string;
  participants: readonly string[];
  /** Longest wait for a concurrent decision insert of the same key (its transaction still open). */
  lockTimeoutMs: number;
}

/**
 * Presumed abort, fenced: inserts an 'abort' decision unless one exists, and returns the decision that holds.
 * Used by recovery for undecided branches past the prepare timeout, and by a coordinator that lost its
 * connection while writing its commit decision (it cannot know whether the commit landed).
 *
 * Why this is safe: the decision row's primary key is the transaction id. If the coordinator's commit insert is
 * in flight (even uncommitted, inside the log participant's branch), this insert waits for it and then does
 * nothing; the re-read (a new statement, so a new snapshot) then sees the commit. If this insert lands first,
 * the coordinator's insert conflicts and the coordinator aborts. Exactly one decision ever exists.
 * The lock timeout bounds the wait on a half-open session that still holds an uncommitted decision row.
 */
export async function fenceAbort(log: pg.Pool, target: FenceTarget): Promise<Outcome> {
  return withClient(log, async (client) => {
    await client.query(`BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.trunc(target.lockTimeoutMs))}`);
    try {
      const inserted = await client.query(
        insertDecision(
          target.schema,
          'abort',
          target.transactionId,
          target.coordinatorId,
          target.participants,
        ),
      );
      await client.query('COMMIT');
      if ((inserted.rowCount ?? 0) > 0) return 'abort';
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
    const { rows } = await client.query<{ outcome: Outcome }>(
      selectOutcomes(target.schema, [target.transactionId]),
    );
    const outcome = rows[0]?.outcome;
    if (!outcome) {
      // Deleted between the insert that lost and this read (retention ran): nothing can be said of it now.
      throw new InDoubtError(`decision of ${target.transactionId} vanished while fencing`, {
        context: { transactionId: target.transactionId },
      });
    }
    return outcome;
  });
}
