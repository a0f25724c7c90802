import type pg from 'pg';
import { inlineStatement } from '../db/inline-statement.js';
import { runMigrations } from '../db/migrations.js';
import { type Queryable, withTransaction } from '../db/queryable.js';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/schema-name.js';
import type { TransactionLimits } from '../db/transaction-limits.js';
import { barrierMigrations } from './barrier-migrations.js';
import { deleteOldBarrierRows, insertAction, insertCompensation, selectActionRow } from './barrier-sql.js';

/**
 * Which step a barrier call guards: a step context has these fields, and so does a RabbitMQ command.
 *
 * @example
 * await barrier(client, { sagaId: command.sagaId, step: command.step }, 'action');
 */
export interface BarrierKey {
  readonly sagaId: string;
  readonly step: string;
}

/**
 * The operation a participant is about to apply.
 *
 * @example
 * const op: BarrierOp = command.kind === 'undo' ? 'compensate' : 'action';
 */
export type BarrierOp = 'action' | 'compensate';

/**
 * What the barrier decided. Apply the write only when `apply` is true; `why` says what happened:
 * - `first`: the first action, or the first compensation of an action that ran;
 * - `duplicate`: this operation already took effect (a retry, a re-delivered message);
 * - `after-compensation`: an action arriving after its compensation — refused, it must never take effect;
 * - `null-compensation`: a compensation whose action never ran — nothing to undo (and the late action is
 *   now blocked).
 *
 * @example
 * const { apply, why } = await barrier(client, ctx, 'action');
 * if (!apply) log.debug({ why }, 'skipped');
 */
export interface BarrierResult {
  readonly apply: boolean;
  readonly why: 'first' | 'duplicate' | 'after-compensation' | 'null-compensation';
}

/**
 * The sub-transaction barrier (DTM's design, for PostgreSQL). Call it inside the participant's own local
 * transaction, before its write, and apply the write only when `apply` is true: the barrier's insert commits
 * or rolls back with the write, so each of action and compensation takes effect at most once, a compensation
 * without an action is a no-op, and an action after its compensation is refused. Concurrent calls for the
 * same step wait on each other's insert (primary key), so they are ordered by the database.
 *
 * @example
 * await withTransaction(paymentsPool, async (client) => {
 *   if (!(await barrier(client, ctx, 'action')).apply) return;
 *   await client.query('UPDATE wallets SET balance = balance - $1 WHERE customer = $2', [amount, customer]);
 * });
 */
export async function barrier(
  client: Queryable,
  key: BarrierKey,
  op: BarrierOp,
  options: { schema?: string } = {},
): Promise<BarrierResult> {
  const schema = quoteSchema(options.schema ?? DEFAULT_SCHEMA);
  const first = await client.query(barrierStatement(schema, key, op));
  return barrierDecision(client, schema, key, op, first);
}

/**
 * {@link barrier} and the local transaction around it in one call, one round trip shorter: BEGIN and the
 * barrier's insert travel to the server together (and the `lockTimeoutMs` / `statementTimeoutMs` given, set
 * with `SET LOCAL`). Borrows a client from `pool`, calls `work` with it and the
 * barrier's decision (apply the write only when `gate.apply`), and commits — also when nothing is applied, so
 * that a null compensation's row blocks a late action — or rolls back when `work` throws. `signal` abandons
 * the transaction when it fires (the connection is closed, PostgreSQL rolls it back; see {@link withTransaction}):
 * the row lock of a step given up on is not held for as long as the step takes to notice.
 *
 * @example
 * const charged = await withBarrier(paymentsPool, ctx, 'action', async (client, gate) => {
 *   if (!gate.apply) return false;
 *   await client.query('UPDATE wallets SET balance = balance - $1 WHERE customer = $2', [amount, customer]);
 *   return true;
 * });
 */
export function withBarrier<T>(
  pool: pg.Pool,
  key: BarrierKey,
  op: BarrierOp,
  work: (client: pg.PoolClient, gate: BarrierResult) => Promise<T>,
  options: { schema?: string; signal?: AbortSignal } & TransactionLimits = {},
): Promise<T> {
  const { schema: schemaName, signal, ...limits } = options;
  const schema = quoteSchema(schemaName ?? DEFAULT_SCHEMA);
  return withTransaction(
    pool,
    async (client, begun) => work(client, await barrierDecision(client, schema, key, op, begun)),
    // Values written in as literals: a simple query cannot take parameters.
    { begin: inlineStatement(barrierStatement(schema, key, op)), limits, ...(signal ? { signal } : {}) },
  );
}

/** The barrier's first statement: the action's or the compensation's insert. */
function barrierStatement(schema: string, key: BarrierKey, op: BarrierOp) {
  return op === 'action'
    ? insertAction(schema, key.sagaId, key.step)
    : insertCompensation(schema, key.sagaId, key.step);
}

/** What the barrier decided, from the result of its first statement (one more read for a refused action). */
async function barrierDecision(
  client: Queryable,
  schema: string,
  key: BarrierKey,
  op: BarrierOp,
  first: pg.QueryResult,
): Promise<BarrierResult> {
  if (op === 'action') {
    if (first.rowCount === 1) return { apply: true, why: 'first' };
    const { rows } = await client.query<{ inserted_by: string }>(
      selectActionRow(schema, key.sagaId, key.step),
    );
    return { apply: false, why: rows[0]?.inserted_by === 'compensate' ? 'after-compensation' : 'duplicate' };
  }
  const row = first.rows[0] as { action_inserted: number; compensate_inserted: number } | undefined;
  if (!row || row.compensate_inserted === 0) return { apply: false, why: 'duplicate' };
  if (row.action_inserted === 1) return { apply: false, why: 'null-compensation' };
  return { apply: true, why: 'first' };
}

/**
 * Creates the barrier table in a participant's database (run it once per participant database).
 *
 * @example
 * await migrateBarrier(paymentsPool);
 */
export function migrateBarrier(pool: pg.Pool, options: { schema?: string } = {}): Promise<number[]> {
  return runMigrations(pool, { schema: options.schema ?? DEFAULT_SCHEMA, ...barrierMigrations });
}

/**
 * Deletes barrier rows older than the retention. Keep them longer than any action may still arrive (message
 * redelivery, a runner's retries and recovery): a deleted row no longer refuses a late action.
 *
 * @example
 * await cleanupBarrier(paymentsPool, { olderThanMs: 7 * 24 * 3600_000 });
 */
export async function cleanupBarrier(
  pool: Queryable,
  options: { olderThanMs: number; schema?: string; batchSize?: number },
): Promise<number> {
  const schema = quoteSchema(options.schema ?? DEFAULT_SCHEMA);
  const batchSize = options.batchSize ?? 1_000;
  let deleted = 0;
  for (;;) {
    const { rowCount } = await pool.query(deleteOldBarrierRows(schema, options.olderThanMs, batchSize));
    deleted += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) return deleted;
  }
}
