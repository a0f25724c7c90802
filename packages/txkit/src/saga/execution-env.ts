import type pg from 'pg';
import { isRetryablePostgresError } from '../db/postgres-errors.js';
import type { Statement } from '../db/queryable.js';
import { InDoubtError } from '../errors.js';
import type { FaultHook, SagaFaultPoint } from '../faults.js';
import type { LeaseKeeper } from './lease-keeper.js';
import { backoffDelay, type RetryPolicy, sleep } from './retry-policy.js';
import type { SagaRunnerEvents } from './saga-events.js';
import { extendLeases } from './saga-log.js';
import type { SagaState } from './saga-state.js';

/** What the execution of a saga needs from its runner. */
export interface ExecutionEnv {
  readonly pool: pg.Pool;
  readonly schema: string;
  readonly leaseMs: number;
  readonly faults: FaultHook | undefined;
  readonly leases: LeaseKeeper;
  /** Retries of a log write that failed with a transient error. */
  readonly logRetry: RetryPolicy;
  emit<K extends keyof SagaRunnerEvents>(event: K, ...args: SagaRunnerEvents[K]): void;
  /** Counts one statement sent to the saga log. */
  countStatement(): void;
  /** Names a hot-path log statement so that connections prepare it once (identity when turned off). */
  prepare(statement: Statement): Statement;
}

/** Result row of a fenced log write. */
export interface FencedWrite {
  fenced: number;
  inserted: number;
}

/** The error that stops a runner that lost its lease on a saga. */
export function leaseLostError(sagaId: string): InDoubtError {
  return new InDoubtError(`lease on saga ${sagaId} lost: another runner drives it now`, {
    context: { sagaId, leaseLost: true },
  });
}

/** Whether an error means "this runner lost its lease" (another runner owns the saga now). */
export function isLeaseLost(error: unknown): boolean {
  return error instanceof InDoubtError && error.context.leaseLost === true;
}

/** The error that stops a saga whose idempotency key turned out to be taken when its row was written. */
export function keyTakenError(sagaId: string): InDoubtError {
  return new InDoubtError(`saga ${sagaId} was not started: its key is taken`, {
    context: { sagaId, keyTaken: true },
  });
}

/** Whether an error means "the key was taken by another saga" (its outcome is the answer). */
export function isKeyTaken(error: unknown): boolean {
  return error instanceof InDoubtError && error.context.keyTaken === true;
}

/** Whether an error means "the log could not be written": the saga is left to recovery. */
export function isLogUnavailable(error: unknown): boolean {
  return error instanceof InDoubtError && error.context.logUnavailable === true;
}

/** Calls the fault hook at a saga fault point. */
export async function reachFault(
  env: ExecutionEnv,
  point: SagaFaultPoint,
  state: SagaState,
  step?: string,
  attempt?: number,
): Promise<void> {
  if (env.faults) await env.faults({ point, id: state.id, step, attempt });
}

/**
 * Makes sure this runner still holds the saga before it starts an attempt. A lease past its local deadline
 * (a slow heartbeat under load) is renewed first — safe between attempts, since nothing runs — and the saga
 * is given up only when the renewal finds another runner's token.
 */
export async function ensureLease(env: ExecutionEnv, state: SagaState): Promise<void> {
  if (state.lease.controller.signal.aborted) throw leaseLostError(state.id);
  // Not written yet: nobody else can see, let alone claim, the saga.
  if (state.pendingStart) return;
  if (Date.now() <= state.lease.deadline) return;
  const since = Date.now();
  env.countStatement();
  const { rows } = await env.pool.query(extendLeases(env.schema, [state.lease], env.leaseMs));
  if (rows.length === 1 && !state.lease.controller.signal.aborted) {
    env.leases.renewed(state.lease, since);
    return;
  }
  env.leases.lost(state.lease);
  throw leaseLostError(state.id);
}

/**
 * Writes a fenced log statement (see saga-log.ts), retrying transient failures. A write that matched no saga
 * row means another runner claimed the saga: this runner stops driving it. A log that stays unreachable
 * stops this runner too; the lease then expires and recovery (here or elsewhere) drives the saga on.
 */
export async function writeFenced(
  env: ExecutionEnv,
  state: SagaState,
  statement: Statement,
): Promise<FencedWrite> {
  for (let attempt = 1; ; attempt++) {
    const since = Date.now();
    try {
      env.countStatement();
      const { rows } = await env.pool.query<FencedWrite>(env.prepare(statement));
      const row = rows[0] ?? { fenced: 0, inserted: 0 };
      if (row.fenced !== 1) {
        env.leases.lost(state.lease);
        throw leaseLostError(state.id);
      }
      env.leases.renewed(state.lease, since);
      return row;
    } catch (error) {
      if (isLeaseLost(error)) throw error;
      if (!isRetryablePostgresError(error) || attempt >= env.logRetry.maxAttempts) {
        throw new InDoubtError(`saga log write failed; saga ${state.id} is left to recovery`, {
          cause: error,
          context: { sagaId: state.id, saga: state.definition.name, logUnavailable: true },
        });
      }
      await sleep(backoffDelay(env.logRetry, attempt));
    }
  }
}

/** A value as it comes back from the log (JSON), so a fresh run and a resumed one see the same outputs. */
export function asLogged(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}
