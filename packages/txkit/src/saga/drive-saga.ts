import { type ExecutionEnv, isLeaseLost, keyTakenError, writeFenced } from './execution-env.js';
import { runAction } from './run-action.js';
import { runCompensation } from './run-compensation.js';
import {
  endCompensation,
  failSaga,
  insertEndedSaga,
  recordStep,
  type SerializedError,
  startCompensation,
} from './saga-log.js';
import type { SagaOutcome } from './saga-outcome.js';
import { compensationPlan, type SagaState } from './saga-state.js';

/**
 * Drives a saga this runner holds the lease of to its end: the remaining actions in order, then — after a
 * failure — the compensations in reverse order. Returns the outcome; throws when this runner must stop
 * driving it (simulated crash, lost lease, log unreachable), leaving the saga to whoever holds it next.
 */
export async function driveSaga(env: ExecutionEnv, state: SagaState): Promise<SagaOutcome> {
  const base = { sagaId: state.id, name: state.definition.name };
  try {
    if (state.status === 'running') {
      const steps = state.definition.steps;
      if (state.nextStep >= steps.length) return await completeResumed(env, state);
      while (state.nextStep < steps.length) {
        const index = state.nextStep;
        const result = await runAction(env, state, index);
        if (result.ok) continue;
        await beginCompensation(env, state, index, result.reason, result.error, result.attempt);
        break;
      }
      if (state.status === 'running') {
        env.emit('saga:completed', base);
        return { status: 'completed', sagaId: state.id, result: { ...state.outputs } };
      }
    }
    return await compensate(env, state);
  } catch (error) {
    if (isLeaseLost(error)) env.emit('saga:lease-lost', base);
    throw error;
  } finally {
    // Whatever happened, this runner stops heartbeating the saga: finished, lost, or left to recovery.
    env.leases.release(state.lease);
  }
}

/**
 * Turns a running saga to compensation (one fenced write, which also logs the failed action). When there is
 * nothing to compensate (e.g. the first step failed in its own rolled-back transaction), the same write ends
 * the saga `compensated`.
 */
export async function beginCompensation(
  env: ExecutionEnv,
  state: SagaState,
  index: number,
  reason: string,
  error: SerializedError,
  attempt: number,
): Promise<void> {
  const step = state.definition.steps[index]!;
  // Set before the write: if the write fails this runner stops driving the saga anyway.
  state.failure = { step: step.name, reason, error };
  if (state.pendingStart) return endUnwritten(env, state, step.name, reason, error);
  if (state.deferred.length > 0) {
    // Deferred records first: the steps before the failed one are done and must be known as done.
    await writeFenced(
      env,
      state,
      recordStep(env.schema, {
        id: state.id,
        token: state.lease.token,
        records: state.deferred,
        nextStep: index,
        leaseMs: env.leaseMs,
      }),
    );
    state.deferred = [];
  }
  const final = compensationPlan(state).length === 0;
  await writeFenced(
    env,
    state,
    startCompensation(env.schema, {
      id: state.id,
      token: state.lease.token,
      failedStep: step.name,
      step: index,
      attempt,
      reason,
      error,
      leaseMs: env.leaseMs,
      final,
    }),
  );
  state.status = 'compensating';
  state.finished = final;
  env.emit('saga:compensating', {
    sagaId: state.id,
    name: state.definition.name,
    failedStep: step.name,
    reason,
  });
}

// The first step (local, carrying the saga's insert) failed and rolled back: the saga was never written and
// nothing took effect. One insert records the outcome, so that its idempotency key answers it from now on.
async function endUnwritten(
  env: ExecutionEnv,
  state: SagaState,
  failedStep: string,
  reason: string,
  error: SerializedError,
): Promise<void> {
  const { key, owner } = state.pendingStart!;
  env.countStatement();
  const { rows } = await env.pool.query(
    insertEndedSaga(env.schema, {
      id: state.id,
      name: state.definition.name,
      key,
      input: state.input,
      owner,
      token: state.lease.token,
      failedStep,
      reason,
      error,
    }),
  );
  if (rows.length === 0) throw keyTakenError(state.id);
  state.pendingStart = undefined;
  env.emit('saga:started', { sagaId: state.id, name: state.definition.name, key });
  state.status = 'compensating';
  state.finished = true;
  env.emit('saga:compensating', { sagaId: state.id, name: state.definition.name, failedStep, reason });
}

async function compensate(env: ExecutionEnv, state: SagaState): Promise<SagaOutcome> {
  const failure = state.failure ?? { step: '', reason: 'step-error', error: { name: 'Error', message: '' } };
  const base = {
    sagaId: state.id,
    name: state.definition.name,
    failedStep: failure.step,
    reason: failure.reason,
  };
  const plan = compensationPlan(state);
  if (plan.length === 0 && !state.finished) {
    await writeFenced(env, state, endCompensation(env.schema, { id: state.id, token: state.lease.token }));
  }
  for (const [position, index] of plan.entries()) {
    const result = await runCompensation(env, state, index, position === plan.length - 1);
    if (result.ok) continue;
    const step = state.definition.steps[index]!.name;
    const compensation = { step, error: result.error };
    await writeFenced(
      env,
      state,
      failSaga(env.schema, {
        id: state.id,
        token: state.lease.token,
        step,
        index,
        attempt: result.attempt,
        error: result.error,
      }),
    );
    env.emit('saga:failed', { ...base, compensation });
    return { status: 'failed', sagaId: state.id, ...outcomeFailure(failure), compensation };
  }
  env.emit('saga:compensated', base);
  return { status: 'compensated', sagaId: state.id, ...outcomeFailure(failure) };
}

function outcomeFailure(failure: { step: string; reason: string; error: SerializedError }) {
  return { failedStep: failure.step, reason: failure.reason, error: failure.error };
}

// Every action has a done record but the saga is still running. The last record completes the saga in the same
// statement, so txkit never leaves this state; finish such a saga (e.g. written by hand) instead of leaving it.
async function completeResumed(env: ExecutionEnv, state: SagaState): Promise<SagaOutcome> {
  const steps = state.definition.steps;
  await writeFenced(
    env,
    state,
    recordStep(env.schema, {
      id: state.id,
      token: state.lease.token,
      nextStep: steps.length,
      records: [],
      leaseMs: env.leaseMs,
      complete: { result: state.outputs },
    }),
  );
  env.emit('saga:completed', { sagaId: state.id, name: state.definition.name });
  return { status: 'completed', sagaId: state.id, result: { ...state.outputs } };
}
