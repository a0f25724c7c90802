import type { SagaFailure } from './saga-log.js';
import type { StepDefinition } from './saga-types.js';

/** What a saga's plan is computed from: its steps and what its log (or its run so far) says of them. */
export interface PlanState {
  readonly steps: readonly StepDefinition[];
  /** Steps whose action is done (recorded, or deferred in this run). */
  readonly done: ReadonlySet<string>;
  /** Steps whose compensation is done. */
  readonly compensated: ReadonlySet<string>;
  readonly failure: SagaFailure | undefined;
}

/**
 * Index of the first step whose action is not done, or `steps.length`. Groups run one after another, so the
 * saga goes on with this step's group: the one that was running (maybe with effects applied) when the previous
 * owner died.
 */
export function nextIndex(state: PlanState): number {
  const next = state.steps.findIndex((s) => !state.done.has(s.name));
  return next === -1 ? state.steps.length : next;
}

/** Indices of the steps of one group, in the saga's order. */
export function groupMembers(steps: readonly StepDefinition[], group: number): readonly number[] {
  return groupsOf(steps).get(group) ?? [];
}

/**
 * How many steps the widest group of a saga runs at once (1 when it has no parallel group).
 *
 * @example
 * if (widestGroup(definition.steps) > 1) setMaxListeners(0, lease.controller.signal);
 */
export function widestGroup(steps: readonly StepDefinition[]): number {
  let widest = 1;
  for (const members of groupsOf(steps).values()) widest = Math.max(widest, members.length);
  return widest;
}

/** The groups of a definition's steps, worked out once per definition (they are asked for on every step). */
const groupsByDefinition = new WeakMap<readonly StepDefinition[], ReadonlyMap<number, readonly number[]>>();

function groupsOf(steps: readonly StepDefinition[]): ReadonlyMap<number, readonly number[]> {
  let groups = groupsByDefinition.get(steps);
  if (!groups) {
    const built = new Map<number, number[]>();
    steps.forEach((step, index) => {
      const members = built.get(step.group);
      if (members) members.push(index);
      else built.set(step.group, [index]);
    });
    for (const members of built.values()) Object.freeze(members);
    groups = built;
    groupsByDefinition.set(steps, groups);
  }
  return groups;
}

/**
 * Indices of the steps to compensate, in reverse order: every step of the failed step's group and of the groups
 * before it whose action may have taken effect and that has a compensation not yet done. The failed step and
 * its sibling branches are included (an action may have taken effect before it failed or timed out; the barrier
 * turns a compensation into a no-op where it did not) — except a local step without a done record, whose
 * transaction rolled back with its record.
 */
export function compensationPlan(state: PlanState): number[] {
  const { steps } = state;
  const failedIndex = state.failure ? steps.findIndex((s) => s.name === state.failure?.step) : -1;
  const anchor = Math.min(failedIndex === -1 ? nextIndex(state) : failedIndex, steps.length - 1);
  const lastGroup = steps[anchor]?.group ?? -1;
  const plan: number[] = [];
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!;
    if (step.group > lastGroup || !step.compensate || state.compensated.has(step.name)) continue;
    if (step.local && !state.done.has(step.name)) continue;
    plan.push(i);
  }
  return plan;
}
