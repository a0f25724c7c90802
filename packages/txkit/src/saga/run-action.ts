import { isConnectionError } from '../db/queryable.js';
import { StepTimeoutError } from '../errors.js';
import { isSimulatedCrash } from '../faults.js';
import {
  asLogged,
  type ExecutionEnv,
  ensureLease,
  type FencedWrite,
  isKeyTaken,
  isLeaseLost,
  isLogUnavailable,
  keyTakenError,
  leaseLostError,
  reachFault,
  writeFenced,
} from './execution-env.js';
import { backoffDelay, classifyStepError, failureReason, sleep } from './retry-policy.js';
import {
  insertSagaWithRecord,
  recordStep,
  type SerializedError,
  type StepRow,
  selectSteps,
} from './saga-log.js';
import { serializeError } from './saga-outcome.js';
import { type SagaState, stepEvent } from './saga-state.js';
import type { StepDefinition } from './saga-types.js';
import { attemptOptions, runAttempt } from './step-attempt.js';
import { buildContext, inLogTransaction } from './step-context.js';

/** How an action ended: recorded as done, or failed for good (the saga must compensate). */
export type ActionResult =
  | { ok: true }
  | { ok: false; reason: string; error: SerializedError; attempt: number };

/** Errors that end the driving of a saga by this runner rather than the step. */
export function stopsRunner(error: unknown): boolean {
  return isSimulatedCrash(error) || isLeaseLost(error) || isLogUnavailable(error) || isKeyTaken(error);
}

/** Abandoned or broken work: its pinned client must be destroyed, not returned. */
export function abandonsClient(error: unknown): boolean {
  return stopsRunner(error) || error instanceof StepTimeoutError || isConnectionError(error);
}

/**
 * Runs the action of step `index` with retries and records it. Durability rules:
 * - the record is written after the effect (a crash in between runs the action again on resume: steps are
 *   idempotent downstream, by `ctx.stepKey` or the barrier);
 * - a local step's record commits in the step's own transaction: effect and record together or neither;
 * - every record is fenced by the lease token, so a runner that lost the saga cannot record anything.
 */
export async function runAction(env: ExecutionEnv, state: SagaState, index: number): Promise<ActionResult> {
  const step = state.definition.steps[index]!;
  const last = index === state.definition.steps.length - 1;
  const event = (attempt: number) => stepEvent(state, step.name, attempt);
  for (let attempt = 1; ; attempt++) {
    await ensureLease(env, state);
    env.emit('step:started', event(attempt));
    try {
      await reachFault(env, 'saga:before-step', state, step.name, attempt);
      const output = step.local
        ? await localAttempt(env, state, step, attempt, last)
        : await remoteAttempt(env, state, step, attempt);
      state.outputs[step.name] = output;
    } catch (error) {
      if (stopsRunner(error)) throw error;
      const kind = classifyStepError(error);
      if (kind === 'retryable' && attempt < step.retry.maxAttempts) {
        const delayMs = backoffDelay(step.retry, attempt);
        env.emit('step:retrying', { ...event(attempt), delayMs, error: serializeError(error) });
        await sleep(delayMs, state.lease.controller.signal);
        continue;
      }
      const reason = failureReason(error, kind);
      env.emit('step:failed', { ...event(attempt), reason, error: serializeError(error) });
      return { ok: false, reason, error: serializeError(error), attempt };
    }
    const deferred = step.deferRecord && !last;
    if (deferred) {
      state.deferred.push({ step: step.name, attempt, output: state.outputs[step.name] });
    } else if (!step.local) {
      await writeFenced(env, state, recordOf(env, state, step, index, attempt, last));
      state.deferred = [];
    }
    state.done.add(step.name);
    state.nextStep = index + 1;
    env.emit('step:completed', event(attempt));
    // A deferred record is not written yet: its fault point is reached when it is (with the next step's).
    if (!deferred) await reachFault(env, 'saga:after-step-record', state, step.name, attempt);
    return { ok: true };
  }
}

function recordOf(
  env: ExecutionEnv,
  state: SagaState,
  step: StepDefinition,
  index: number,
  attempt: number,
  last: boolean,
) {
  const common = {
    token: state.lease.token,
    records: [...state.deferred, { step: step.name, attempt, output: state.outputs[step.name] }],
    nextStep: index + 1,
    leaseMs: env.leaseMs,
    ...(last ? { complete: { result: state.outputs } } : {}),
  };
  if (!state.pendingStart) return recordStep(env.schema, { id: state.id, ...common });
  return insertSagaWithRecord(env.schema, {
    id: state.id,
    name: state.definition.name,
    input: state.input,
    ...state.pendingStart,
    ...common,
  });
}

async function remoteAttempt(env: ExecutionEnv, state: SagaState, step: StepDefinition, attempt: number) {
  const output = await runAttempt(
    (signal) => (step.run as (ctx: unknown) => unknown)(buildContext(state, step, attempt, signal)),
    attemptOptions(state, step, 'action'),
  );
  // The effect happened; the record is not written yet. A crash here is the case the barrier exists for.
  await reachFault(env, 'saga:after-step-effect', state, step.name, attempt);
  return asLogged(output);
}

async function localAttempt(
  env: ExecutionEnv,
  state: SagaState,
  step: StepDefinition,
  attempt: number,
  last: boolean,
) {
  const since = Date.now();
  const result = await inLogTransaction(
    env.pool,
    async (client) => {
      const output = asLogged(
        await runAttempt(
          (signal) =>
            (step.run as (ctx: unknown) => unknown)(buildContext(state, step, attempt, signal, { client })),
          attemptOptions(state, step, 'action'),
        ),
      );
      // Not committed yet: a crash here rolls back the effect together with its record.
      await reachFault(env, 'saga:after-step-effect', state, step.name, attempt);
      env.countStatement();
      const index = state.definition.steps.indexOf(step);
      state.outputs[step.name] = output;
      const { rows } = await client.query<FencedWrite>(
        env.prepare(recordOf(env, state, step, index, attempt, last)),
      );
      const row = rows[0];
      // The saga's own insert rides in the record of its first local step: both commit, or neither exists.
      if (row?.fenced !== 1) throw state.pendingStart ? keyTakenError(state.id) : leaseLostError(state.id);
      // No insert: an earlier attempt's COMMIT did go through although it reported an error. Keep that one.
      return row.inserted > 0
        ? { end: 'commit' as const, value: { output, recorded: false } }
        : { end: 'rollback' as const, value: { output, recorded: true } };
    },
    abandonsClient,
  ).catch((error) => {
    delete state.outputs[step.name];
    if (isLeaseLost(error)) env.leases.lost(state.lease);
    throw error;
  });
  state.deferred = [];
  if (state.pendingStart) {
    const { key } = state.pendingStart;
    state.pendingStart = undefined;
    env.leases.track(state.lease);
    env.emit('saga:started', { sagaId: state.id, name: state.definition.name, key });
  }
  env.leases.renewed(state.lease, since);
  if (!result.recorded) return result.output;
  env.countStatement();
  const { rows } = await env.pool.query<StepRow>(selectSteps(env.schema, state.id));
  return rows.find((r) => r.step === step.name && r.kind === 'action')?.output ?? null;
}
