/**
 * Every statement of the barrier table, as small functions returning `{ text, values }`. `schema` is a
 * quoted, validated schema name.
 */
import type { Statement } from '../db/queryable.js';

/**
 * The action's insert. The primary key (saga, step, op) lets only the first one through: a duplicate, or an
 * action whose compensation already ran (which inserted the 'action' row first), inserts nothing.
 */
export function insertAction(schema: string, sagaId: string, step: string): Statement {
  return {
    text: `INSERT INTO ${schema}.barrier (saga_id, step, op, inserted_by) VALUES ($1, $2, 'action', 'action')
           ON CONFLICT DO NOTHING`,
    values: [sagaId, step],
  };
}

/**
 * The compensation's insert, one statement: the 'action' row (inserted only when the action never ran — a
 * null compensation, which must also block a late action) and the 'compensate' row (inserted only by the
 * first compensation). Returns `action_inserted` and `compensate_inserted` (0 or 1).
 */
export function insertCompensation(schema: string, sagaId: string, step: string): Statement {
  return {
    text: `WITH a AS (
             INSERT INTO ${schema}.barrier (saga_id, step, op, inserted_by) VALUES ($1, $2, 'action', 'compensate')
             ON CONFLICT DO NOTHING RETURNING 1),
           c AS (
             INSERT INTO ${schema}.barrier (saga_id, step, op, inserted_by) VALUES ($1, $2, 'compensate', 'compensate')
             ON CONFLICT DO NOTHING RETURNING 1)
           SELECT (SELECT count(*) FROM a)::int AS action_inserted, (SELECT count(*) FROM c)::int AS compensate_inserted`,
    values: [sagaId, step],
  };
}

/** Who inserted a step's 'action' row (to tell a duplicate action from one refused after compensation). */
export function selectActionRow(schema: string, sagaId: string, step: string): Statement {
  return {
    text: `SELECT inserted_by FROM ${schema}.barrier WHERE saga_id = $1 AND step = $2 AND op = 'action'`,
    values: [sagaId, step],
  };
}

/** Deletes barrier rows older than the retention. */
export function deleteOldBarrierRows(schema: string, olderThanMs: number, limit: number): Statement {
  return {
    text: `DELETE FROM ${schema}.barrier WHERE ctid IN (
             SELECT ctid FROM ${schema}.barrier WHERE created_at < now() - make_interval(secs => $1) LIMIT $2)`,
    values: [olderThanMs / 1000, limit],
  };
}

/** Keeps a guarded step's output in its action's barrier row (in the step's transaction). */
export function storeActionOutput(schema: string, sagaId: string, step: string, output: unknown): Statement {
  return {
    text: `UPDATE ${schema}.barrier SET output = $3 WHERE saga_id = $1 AND step = $2 AND op = 'action'`,
    values: [sagaId, step, JSON.stringify(output)],
  };
}

/** A guarded step's stored output, and who inserted its action row (`compensate`: the action never ran). */
export function selectActionOutput(schema: string, sagaId: string, step: string): Statement {
  return {
    text: `SELECT inserted_by, output FROM ${schema}.barrier WHERE saga_id = $1 AND step = $2 AND op = 'action'`,
    values: [sagaId, step],
  };
}
