import type pg from 'pg';
import { DEFAULT_SCHEMA } from '../db/schema-name.js';
import { type SagaStatusRow, selectUnfinishedSagas } from '../saga/saga-status-sql.js';
import { listPreparedTransactions, type PreparedTransaction } from './prepared-transactions.js';

/**
 * A saga that is not finished: still `running` or `compensating`, or given up on (`failed`).
 *
 * @example
 * const stuck = (await listUnfinishedSagas(pool)).filter((s: UnfinishedSaga) => s.status === 'failed');
 */
export interface UnfinishedSaga {
  id: string;
  name: string;
  status: 'running' | 'compensating' | 'failed';
  owner: string;
  step: number;
}

/**
 * What a test run left behind; all lists empty means clean.
 *
 * @example
 * const { prepared, sagas }: Leftovers = await listLeftovers({ databases: [seats, payments] });
 */
export interface Leftovers {
  /** Prepared transactions of the given databases (they hold locks until resolved). */
  prepared: PreparedTransaction[];
  /** Sagas of the given logs that are running, compensating or failed. */
  sagas: UnfinishedSaga[];
}

/**
 * The sagas of one saga log that are not finished (`running`, `compensating`) or that gave up (`failed`).
 *
 * @example
 * expect(await listUnfinishedSagas(logPool, { schema: 'txkit' })).toEqual([]);
 */
export async function listUnfinishedSagas(
  pool: Pick<pg.Pool, 'query'>,
  options: { schema?: string } = {},
): Promise<UnfinishedSaga[]> {
  const { rows } = await pool.query<SagaStatusRow>(selectUnfinishedSagas(options.schema ?? DEFAULT_SCHEMA));
  return rows.map(({ id, name, status, owner, step }) => ({ id, name, status, owner, step }));
}

/**
 * Everything a run left unfinished: prepared transactions on each database, and unfinished sagas in each
 * saga log. A property test checks it is empty after recovery.
 *
 * @example
 * const left = await listLeftovers({ databases: [seats, payments], sagaLogs: [{ pool: seats, schema: 'txkit' }] });
 * expect(left).toEqual({ prepared: [], sagas: [] });
 */
export async function listLeftovers(options: {
  /** Pools on the databases whose prepared transactions count (each one's own database only). */
  databases?: readonly Pick<pg.Pool, 'query'>[];
  sagaLogs?: readonly { pool: Pick<pg.Pool, 'query'>; schema?: string }[];
}): Promise<Leftovers> {
  const prepared: PreparedTransaction[] = [];
  for (const pool of options.databases ?? []) {
    const { rows } = await pool.query<{ db: string }>('SELECT current_database() AS db');
    prepared.push(...(await listPreparedTransactions(pool, rows[0]?.db)));
  }
  const sagas: UnfinishedSaga[] = [];
  for (const log of options.sagaLogs ?? []) sagas.push(...(await listUnfinishedSagas(log.pool, log)));
  return { prepared, sagas };
}
