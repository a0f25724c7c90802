import { ConfigurationError } from '../errors.js';
import { beginCompensation, driveSaga } from './drive-saga.js';
import { type ExecutionEnv, writeFenced } from './execution-env.js';
import { claimExpired, failSaga, type SagaRow, type StepRow, selectSteps } from './saga-log.js';
import type { SagaOutcome } from './saga-outcome.js';
import { compensationPlan, type SagaState, stateFromLog } from './saga-state.js';
import type { AnySagaDefinition } from './saga-types.js';

/** Options of one recovery pass. */
export interface ResumeOptions {
  /** The runner's owner label, stored on claimed sagas. */
  owner: string;
  /** At most this many sagas per pass. */
  batchSize: number;
  /** Sagas claimed more often than this are given up on (see {@link resumeClaimed}). */
  maxClaims: number;
  /** Saga ids this runner drives already (never claimed from itself). */
  exclude: string[];
}

/**
 * One recovery pass: claims unfinished sagas whose lease expired (`FOR UPDATE SKIP LOCKED`, so concurrent
 * passes of several runners split the work) and drives each to its end. Returns the outcomes, and the
 * errors of sagas that could not be driven (left to a later pass).
 */
export async function resumeExpiredSagas(
  env: ExecutionEnv,
  definitions: ReadonlyMap<string, AnySagaDefinition>,
  options: ResumeOptions,
  track: (id: string, work: Promise<SagaOutcome>) => void,
): Promise<{ outcomes: SagaOutcome[]; errors: unknown[] }> {
  env.countStatement();
  const { rows } = await env.pool.query<SagaRow>(
    claimExpired(env.schema, {
      owner: options.owner,
      limit: options.batchSize,
      leaseMs: env.leaseMs,
      exclude: options.exclude,
    }),
  );
  const since = Date.now();
  const settled = await Promise.allSettled(
    rows.map((row) => {
      const work = resumeClaimed(env, definitions, row, options.maxClaims, since);
      track(row.id, work);
      return work;
    }),
  );
  const outcomes: SagaOutcome[] = [];
  const errors: unknown[] = [];
  for (const s of settled) {
    if (s.status === 'fulfilled') outcomes.push(s.value);
    else errors.push(s.reason);
  }
  return { outcomes, errors };
}

/**
 * Drives a saga this runner just claimed. A saga claimed more than `maxClaims` times keeps killing (or
 * stalling) its runners: a running one is sent to compensation (reason `recovery-limit`), a compensating one
 * ends `failed` — bounded, visible, never an endless loop.
 */
export async function resumeClaimed(
  env: ExecutionEnv,
  definitions: ReadonlyMap<string, AnySagaDefinition>,
  row: SagaRow,
  maxClaims: number,
  since: number,
): Promise<SagaOutcome> {
  const definition = definitions.get(row.name);
  if (!definition) {
    throw new ConfigurationError(`saga ${row.id} is a '${row.name}', which this runner does not know`, {
      context: { sagaId: row.id, saga: row.name },
    });
  }
  const lease = env.leases.hold(row.id, row.lease_token, since);
  let state: SagaState;
  try {
    env.countStatement();
    const { rows: steps } = await env.pool.query<StepRow>(selectSteps(env.schema, row.id));
    state = stateFromLog(row, steps, definition, lease);
  } catch (error) {
    env.leases.release(lease);
    throw error;
  }
  env.emit('saga:resumed', { sagaId: row.id, name: row.name, status: state.status, claims: row.claims });
  if (row.claims > maxClaims) {
    try {
      return await giveUpOrCompensate(env, state, row, definition);
    } catch (error) {
      env.leases.release(lease);
      throw error;
    }
  }
  return driveSaga(env, state);
}

async function giveUpOrCompensate(
  env: ExecutionEnv,
  state: SagaState,
  row: SagaRow,
  definition: AnySagaDefinition,
): Promise<SagaOutcome> {
  const error = { name: 'RecoveryLimit', message: `saga claimed ${row.claims} times by recovery` };
  if (state.status === 'running') {
    if (state.nextStep < definition.steps.length) {
      await beginCompensation(env, state, state.nextStep, 'recovery-limit', error, 0);
    }
    return driveSaga(env, state);
  }
  const index = compensationPlan(state)[0] ?? state.nextStep;
  const step = definition.steps[index]?.name ?? '';
  await writeFenced(
    env,
    state,
    failSaga(env.schema, { id: row.id, token: row.lease_token, step, index, attempt: 0, error }),
  );
  env.leases.release(state.lease);
  const failure = state.failure ?? { step: '', reason: '', error };
  const compensation = { step, error };
  env.emit('saga:failed', {
    sagaId: row.id,
    name: row.name,
    failedStep: failure.step,
    reason: failure.reason,
    compensation,
  });
  return {
    status: 'failed',
    sagaId: row.id,
    failedStep: failure.step,
    reason: failure.reason,
    error: failure.error,
    compensation,
  };
}
