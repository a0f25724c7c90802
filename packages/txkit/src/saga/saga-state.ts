import { ConfigurationError } from '../errors.js';
import type { HeldLease } from './lease-keeper.js';
import type { StepEvent } from './saga-events.js';
import type { ActionRecord, SagaRow, SerializedError, StepRow } from './saga-log.js';
import type { AnySagaDefinition, StepOutputs } from './saga-types.js';

/** What a runner knows about a saga it drives (rebuilt from the log on recovery). */
export interface SagaState {
  readonly id: string;
  readonly definition: AnySagaDefinition;
  readonly input: unknown;
  status: 'running' | 'compensating';
  /** Outputs of the recorded (done) actions. */
  readonly outputs: StepOutputs;
  /** Steps whose action record says done. */
  readonly done: Set<string>;
  /** Steps whose compensation record says done. */
  readonly compensated: Set<string>;
  /** Index of the next action to run. */
  nextStep: number;
  failure: { step: string; reason: string; error: SerializedError } | undefined;
  /** The log already says the saga ended (its last write did it). */
  finished: boolean;
  /**
   * The saga's insert, not yet written: it goes into the first step's transaction when that step is local
   * (one commit less). Until it commits, the saga does not exist for anyone else.
   */
  pendingStart: { key: string | null; owner: string } | undefined;
  /** Records of finished `deferRecord` steps, written with the next log write. */
  deferred: ActionRecord[];
  lease: HeldLease;
}

/** The state of a saga just started. */
export function newSagaState(
  id: string,
  definition: AnySagaDefinition,
  input: unknown,
  lease: HeldLease,
): SagaState {
  return {
    id,
    definition,
    input,
    status: 'running',
    outputs: {},
    done: new Set(),
    compensated: new Set(),
    nextStep: 0,
    failure: undefined,
    finished: false,
    pendingStart: undefined,
    deferred: [],
    lease,
  };
}

/**
 * Rebuilds a saga's state from its row and step records. Steps run one after another, so the next action
 * is the first one without a done record: the one that was running (maybe with its effect already applied)
 * when the previous owner died.
 */
export function stateFromLog(
  row: SagaRow,
  steps: readonly StepRow[],
  definition: AnySagaDefinition,
  lease: HeldLease,
): SagaState {
  if (row.status !== 'running' && row.status !== 'compensating') {
    throw new ConfigurationError(`saga ${row.id} is ${row.status}, nothing to resume`);
  }
  const names = new Set(definition.steps.map((s) => s.name));
  const state = newSagaState(row.id, definition, row.input, lease);
  state.status = row.status;
  for (const record of steps) {
    if (!names.has(record.step)) {
      throw new ConfigurationError(
        `saga ${row.id} ('${row.name}') has a record of step '${record.step}' that the definition lacks`,
        { context: { sagaId: row.id, saga: row.name, step: record.step } },
      );
    }
    if (record.status !== 'done') continue;
    if (record.kind === 'action') {
      state.done.add(record.step);
      state.outputs[record.step] = record.output;
    } else {
      state.compensated.add(record.step);
    }
  }
  const next = definition.steps.findIndex((s) => !state.done.has(s.name));
  state.nextStep = next === -1 ? definition.steps.length : next;
  if (row.failed_step) {
    state.failure = {
      step: row.failed_step,
      reason: row.reason ?? 'step-error',
      error: row.error ?? { name: 'Error', message: 'unknown' },
    };
  }
  return state;
}

/**
 * Indices of the steps to compensate, in reverse order: every step up to the failed one whose action may have
 * taken effect and that has a compensation not yet done. The failed step is included (its action may have
 * taken effect before it failed or timed out; the barrier turns its compensation into a no-op if not) —
 * except a local step without a done record, whose transaction rolled back with its record.
 */
export function compensationPlan(state: SagaState): number[] {
  const steps = state.definition.steps;
  const failedIndex = state.failure ? steps.findIndex((s) => s.name === state.failure?.step) : state.nextStep;
  const last = failedIndex === -1 ? state.nextStep : Math.min(failedIndex, steps.length - 1);
  const plan: number[] = [];
  for (let i = last; i >= 0; i--) {
    const step = steps[i]!;
    if (!step.compensate || state.compensated.has(step.name)) continue;
    if (step.local && !state.done.has(step.name)) continue;
    plan.push(i);
  }
  return plan;
}

/** The payload of a step or compensation event of this saga. */
export function stepEvent(state: SagaState, step: string, attempt: number): StepEvent {
  return { sagaId: state.id, name: state.definition.name, step, attempt };
}
