import { StepRejectedError } from '../errors.js';
import {
  type ExecutionEnv,
  ensureLease,
  type FencedWrite,
  isLeaseLost,
  leaseLostError,
  reachFault,
  writeFenced,
} from './execution-env.js';
import { backoffDelay, sleep } from './retry-policy.js';
import { abandonsClient, stopsRunner } from './run-action.js';
import { recordCompensation, type SerializedError } from './saga-log.js';
import { serializeError } from './saga-outcome.js';
import { type SagaState, stepEvent } from './saga-state.js';
import type { StepDefinition } from './saga-types.js';
import { attemptOptions, runAttempt } from './step-attempt.js';
import { buildContext, inLogTransaction } from './step-context.js';

/** How a compensation ended: recorded as done, or given up (the saga ends `failed`). */
export type CompensationResult = { ok: true } | { ok: false; error: SerializedError; attempt: number };

/**
 * Runs the compensation of step `index` with retries and records it; with `final`, the record also ends the
 * saga `compensated`. Any error but a crash or a lost lease is retried — a compensation must not give up
 * lightly, since giving up leaves the saga for an operator — except a {@link StepRejectedError}, which says
 * retrying cannot help. The record is written after the effect, so a crash in between compensates again on
 * resume: the barrier makes the second one a no-op.
 */
export async function runCompensation(
  env: ExecutionEnv,
  state: SagaState,
  index: number,
  final: boolean,
): Promise<CompensationResult> {
  const step = state.definition.steps[index]!;
  const policy = step.compensationRetry;
  const event = (attempt: number) => stepEvent(state, step.name, attempt);
  for (let attempt = 1; ; attempt++) {
    await ensureLease(env, state);
    env.emit('compensation:started', event(attempt));
    try {
      await reachFault(env, 'saga:before-compensation', state, step.name, attempt);
      if (step.local) await localAttempt(env, state, step, index, attempt, final);
      else await remoteAttempt(env, state, step, attempt);
    } catch (error) {
      if (stopsRunner(error)) throw error;
      if (!(error instanceof StepRejectedError) && attempt < policy.maxAttempts) {
        const delayMs = backoffDelay(policy, attempt);
        env.emit('compensation:retrying', { ...event(attempt), delayMs, error: serializeError(error) });
        await sleep(delayMs, state.lease.controller.signal);
        continue;
      }
      return { ok: false, error: serializeError(error), attempt };
    }
    if (!step.local) await writeFenced(env, state, recordOf(env, state, step, index, attempt, final));
    state.compensated.add(step.name);
    env.emit('compensation:completed', event(attempt));
    await reachFault(env, 'saga:after-compensation-record', state, step.name, attempt);
    return { ok: true };
  }
}

function recordOf(
  env: ExecutionEnv,
  state: SagaState,
  step: StepDefinition,
  index: number,
  attempt: number,
  final: boolean,
) {
  return recordCompensation(env.schema, {
    id: state.id,
    token: state.lease.token,
    step: step.name,
    index,
    attempt,
    leaseMs: env.leaseMs,
    final,
  });
}

async function remoteAttempt(env: ExecutionEnv, state: SagaState, step: StepDefinition, attempt: number) {
  await runAttempt(
    (signal) =>
      (step.compensate as (ctx: unknown) => unknown)(
        buildContext(state, step, attempt, signal, { compensation: true }),
      ),
    attemptOptions(state, step, 'compensation'),
  );
  await reachFault(env, 'saga:after-compensation-effect', state, step.name, attempt);
}

async function localAttempt(
  env: ExecutionEnv,
  state: SagaState,
  step: StepDefinition,
  index: number,
  attempt: number,
  final: boolean,
) {
  const since = Date.now();
  await inLogTransaction(
    env.pool,
    async (client) => {
      await runAttempt(
        (signal) =>
          (step.compensate as (ctx: unknown) => unknown)(
            buildContext(state, step, attempt, signal, { client, compensation: true }),
          ),
        attemptOptions(state, step, 'compensation'),
      );
      await reachFault(env, 'saga:after-compensation-effect', state, step.name, attempt);
      env.countStatement();
      const { rows } = await client.query<FencedWrite>(recordOf(env, state, step, index, attempt, final));
      if (rows[0]?.fenced !== 1) throw leaseLostError(state.id);
      // No insert: an earlier attempt did commit; roll this duplicate back.
      return { end: rows[0].inserted === 1 ? ('commit' as const) : ('rollback' as const), value: undefined };
    },
    abandonsClient,
  ).catch((error) => {
    if (isLeaseLost(error)) env.leases.lost(state.lease);
    throw error;
  });
  env.leases.renewed(state.lease, since);
}
