import type { Statement } from '../db/queryable.js';
import { quoteSchema } from '../db/schema-name.js';

// A read-only look at the saga log for operators (`txkit status`) and tests (txkit/testing's leftovers);
// everything the saga protocol writes lives in saga-log.ts. Ages come from the server's clock, so the operator's
// clock does not matter.

/** A saga row as `txkit status` shows it. */
export interface SagaStatusRow {
  id: string;
  name: string;
  key: string | null;
  status: 'running' | 'compensating' | 'failed';
  owner: string;
  step: number;
  claims: number;
  failed_step: string | null;
  reason: string | null;
  failed_compensation: string | null;
  age_ms: number;
  /** Time since the last write (for a failed saga: since it gave up). */
  idle_ms: number;
  /** Whether the owner's lease ran out: nobody drives it until a recovery pass claims it. */
  lease_expired: boolean;
}

/** Unfinished (`running`, `compensating`) and dead-lettered (`failed`) sagas, oldest first (all without a limit). */
export function selectUnfinishedSagas(schema: string, limit?: number): Statement {
  return {
    text: `SELECT id::text, name, key, status, owner, step, claims, failed_step, reason, failed_compensation,
                  (extract(epoch FROM now() - created_at) * 1000)::float8 AS age_ms,
                  (extract(epoch FROM now() - updated_at) * 1000)::float8 AS idle_ms,
                  (status <> 'failed' AND lease_until < now()) AS lease_expired
             FROM ${quoteSchema(schema)}.saga
            WHERE status IN ('running', 'compensating', 'failed')
            ORDER BY created_at
            LIMIT $1`,
    // LIMIT NULL is no limit.
    values: [limit ?? null],
  };
}

/** Whether the saga log exists in that schema (status reports "no saga log" rather than failing). */
export function selectSagaLogExists(schema: string): Statement {
  return { text: `SELECT to_regclass($1) IS NOT NULL AS exists`, values: [`${quoteSchema(schema)}.saga`] };
}
