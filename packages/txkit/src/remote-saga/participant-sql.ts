/**
 * Every statement of a remote participant's step results (`participant_results`). `schema` is a quoted schema
 * name.
 */
import type { Statement } from '../db/queryable.js';

/** Stores an applied action's output; runs in the transaction of the action and its barrier row. */
export function insertResult(schema: string, sagaId: string, step: string, output: unknown): Statement {
  return {
    text: `INSERT INTO ${schema}.participant_results (saga_id, step, output) VALUES ($1, $2, $3)`,
    values: [sagaId, step, JSON.stringify(output ?? null)],
  };
}

export function selectResult(schema: string, sagaId: string, step: string): Statement {
  return {
    text: `SELECT output FROM ${schema}.participant_results WHERE saga_id = $1 AND step = $2`,
    values: [sagaId, step],
  };
}

/** Deletes up to `limit` results older than `olderThanMs`. */
export function deleteOldResults(schema: string, olderThanMs: number, limit: number): Statement {
  return {
    text: `DELETE FROM ${schema}.participant_results
            WHERE (saga_id, step) IN (SELECT saga_id, step FROM ${schema}.participant_results
                                       WHERE created_at < now() - $1 * interval '1 millisecond' LIMIT $2)`,
    values: [olderThanMs, limit],
  };
}
