import { commitPreparedSql, rollbackPreparedSql } from './branch-sql.js';
import type { Outcome } from './decision-log.js';

/** 42704: no prepared transaction of that gid (someone else finished it). */
const UNDEFINED_OBJECT = '42704';
/** 55000: another backend is finishing this gid right now ("is busy"). */
const BUSY = '55000';

/** What happened to a prepared branch: we finished it, or it was already gone. */
export type FinishResult = 'finished' | 'already-finished';

/**
 * COMMIT PREPARED or ROLLBACK PREPARED one gid, from a session on the branch's own database (a prepared
 * transaction can only be finished from there). "Does not exist" is success: the outcome was decided before we
 * got here, so whoever removed the branch carried out the same decision. `run` sends one statement.
 */
export async function finishPrepared(
  run: (sql: string) => Promise<unknown>,
  gid: string,
  outcome: Outcome,
): Promise<FinishResult> {
  try {
    await run(outcome === 'commit' ? commitPreparedSql(gid) : rollbackPreparedSql(gid));
    return 'finished';
  } catch (error) {
    if ((error as { code?: string }).code === UNDEFINED_OBJECT) return 'already-finished';
    throw error;
  }
}

/** Whether finishing failed only because another session was finishing the same gid at that moment. */
export function isBusyError(error: unknown): boolean {
  return (error as { code?: string } | undefined)?.code === BUSY;
}
