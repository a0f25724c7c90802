import type pg from 'pg';
import { isConnectionError } from '../db/queryable.js';
import type { TransactionLimits } from '../db/transaction-limits.js';
import {
  SagaKeyTakenError,
  SagaLeaseLostError,
  SagaLogUnavailableError,
  StepTimeoutError,
} from '../errors.js';
import { isSimulatedCrash, type SagaFaultPoint } from '../faults.js';
import { guardedAction, guardedCompensation } from './guarded-step.js';
import type { SagaFailure } from './saga-log.js';
import { asLogged } from './saga-outcome.js';
import type { StepDefinition, StepOutputs } from './saga-types.js';
import { type AttemptOptions, runAttempt } from './step-attempt.js';

/**
 * What one attempt of a step's action or compensation runs against: the saga it belongs to, as the execution
 * sees it now. The execution that owns the saga passes itself through this view, so that this file — how each
 * kind of step does its work — needs nothing of its log or its lease.
 */
export interface StepSite {
  readonly sagaId: string;
  readonly sagaName: string;
  readonly input: unknown;
  /** Outputs of the finished actions. */
  readonly outputs: StepOutputs;
  /** Why the saga compensates (set once it does). */
  readonly failure: SagaFailure | undefined;
  /** Bounds of the transactions txkit begins for guarded steps (the runner's lock and statement timeouts). */
  readonly limits: TransactionLimits;
  fault(point: SagaFaultPoint, step: string, attempt: number): Promise<void>;
}

/** An action or a compensation. */
export type Kind = 'action' | 'compensation';

const unknownFailure: SagaFailure = { step: '', reason: 'step-error', error: { name: 'Error', message: '' } };

/** The failure to report when the log kept none (a saga whose row says compensating without one). */
export function failureOf(site: Pick<StepSite, 'failure'>): SagaFailure {
  return site.failure ?? unknownFailure;
}

/** The events and fault points of an action and of a compensation: one attempt path serves both. */
export const byKind = {
  action: {
    started: 'step:started',
    retrying: 'step:retrying',
    completed: 'step:completed',
    before: 'saga:before-step',
    effect: 'saga:after-step-effect',
    record: 'saga:after-step-record',
  },
  compensation: {
    started: 'compensation:started',
    retrying: 'compensation:retrying',
    completed: 'compensation:completed',
    before: 'saga:before-compensation',
    effect: 'saga:after-compensation-effect',
    record: 'saga:after-compensation-record',
  },
} as const;

/** Errors that end the driving of a saga by this runner rather than the step. */
export function stopsRunner(error: unknown): boolean {
  return (
    isSimulatedCrash(error) ||
    error instanceof SagaLeaseLostError ||
    error instanceof SagaLogUnavailableError ||
    error instanceof SagaKeyTakenError
  );
}

/** Abandoned or broken work: its pinned client must be destroyed, not returned. */
export function abandonsClient(error: unknown): boolean {
  return stopsRunner(error) || error instanceof StepTimeoutError || isConnectionError(error);
}

/**
 * {@link runAttempt}'s options for one attempt: the step's time limit, `parent` (the lease's signal) and the
 * error of a timeout, whose message and context are built only when an attempt does time out.
 */
export function attemptOptions(
  site: StepSite,
  step: StepDefinition,
  kind: Kind,
  parent: AbortSignal,
): AttemptOptions {
  return {
    timeoutMs: step.timeoutMs,
    parent,
    timedOut: (timeoutMs) =>
      new StepTimeoutError(
        `${kind === 'action' ? `step '${step.name}'` : `compensation of '${step.name}'`} timed out after ${timeoutMs} ms`,
        { context: { sagaId: site.sagaId, saga: site.sagaName, step: step.name } },
      ),
  };
}

/** The fields of every step context; a local or guarded step's also has `client`, a compensation's `output` and `failure`. */
interface StepContextFields {
  sagaId: string;
  sagaName: string;
  step: string;
  stepKey: string;
  attempt: number;
  input: unknown;
  outputs: Readonly<StepOutputs>;
  signal: AbortSignal;
  client?: pg.PoolClient;
  output?: unknown;
  failure?: SagaFailure;
}

/**
 * The context a step's action or compensation receives. Built once per attempt, so the optional fields are
 * assigned rather than spread in (no throwaway objects).
 */
export function stepContext(
  site: StepSite,
  step: StepDefinition,
  attempt: number,
  signal: AbortSignal,
  extra?: { client?: pg.PoolClient; compensation?: boolean; outputs?: StepOutputs },
): StepContextFields {
  const ctx: StepContextFields = {
    sagaId: site.sagaId,
    sagaName: site.sagaName,
    step: step.name,
    stepKey: `${site.sagaId}:${step.name}`,
    attempt,
    input: site.input,
    outputs: Object.freeze({ ...(extra?.outputs ?? site.outputs) }),
    signal,
  };
  if (extra?.client) ctx.client = extra.client;
  if (extra?.compensation) {
    ctx.output = site.outputs[step.name];
    ctx.failure = failureOf(site);
  }
  return ctx;
}

/** A plain step's action, wherever it does its work; `outputs` are what it is shown of the steps before. */
export async function remoteAction(
  site: StepSite,
  step: StepDefinition,
  attempt: number,
  signal: AbortSignal,
  outputs: StepOutputs,
): Promise<unknown> {
  const output = await runAttempt(
    (stepSignal) =>
      (step.run as (ctx: unknown) => unknown)(stepContext(site, step, attempt, stepSignal, { outputs })),
    attemptOptions(site, step, 'action', signal),
  );
  // The effect happened; the record is not written yet. A crash here is the case the barrier exists for.
  await site.fault(byKind.action.effect, step.name, attempt);
  return asLogged(output);
}

/** A guarded step's action: in its database's transaction, its barrier row (with the output) its record. */
export function guardedStepAction(
  site: StepSite,
  step: StepDefinition,
  attempt: number,
  signal: AbortSignal,
): Promise<unknown> {
  return runAttempt(
    (stepSignal) =>
      guardedAction(
        step.participant!,
        { sagaId: site.sagaId, step: step.name },
        async (client) =>
          asLogged(
            await (step.run as (ctx: unknown) => unknown)(
              stepContext(site, step, attempt, stepSignal, { client }),
            ),
          ),
        // Written, not committed: a crash here rolls the effect back with its record.
        () => site.fault(byKind.action.effect, step.name, attempt),
        site.limits,
        stepSignal,
      ),
    attemptOptions(site, step, 'action', signal),
  );
}

/** A plain step's compensation. */
export function remoteCompensation(
  site: StepSite,
  step: StepDefinition,
  attempt: number,
  signal: AbortSignal,
): Promise<void> {
  return compensation(site, step, attempt, signal, (stepSignal) =>
    (step.compensate as (ctx: unknown) => unknown)(
      stepContext(site, step, attempt, stepSignal, { compensation: true }),
    ),
  );
}

/** A guarded step's compensation, behind the barrier in its database; it sees the action's stored output. */
export function guardedStepCompensation(
  site: StepSite,
  step: StepDefinition,
  attempt: number,
  signal: AbortSignal,
): Promise<void> {
  return compensation(site, step, attempt, signal, (stepSignal) =>
    guardedCompensation(
      step.participant!,
      { sagaId: site.sagaId, step: step.name },
      site.outputs[step.name],
      async (client, output) => {
        const ctx = {
          ...stepContext(site, step, attempt, stepSignal, { client, compensation: true }),
          output,
        };
        await (step.compensate as (ctx: unknown) => unknown)(ctx);
      },
      site.limits,
      stepSignal,
    ),
  );
}

// One attempt of a compensation done outside the log's transaction: the work, then its fault point (effect
// applied, record not written yet).
async function compensation(
  site: StepSite,
  step: StepDefinition,
  attempt: number,
  signal: AbortSignal,
  work: (stepSignal: AbortSignal) => unknown,
): Promise<void> {
  await runAttempt(work, attemptOptions(site, step, 'compensation', signal));
  await site.fault(byKind.compensation.effect, step.name, attempt);
}
