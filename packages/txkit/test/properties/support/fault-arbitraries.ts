import fc from 'fast-check';
import type { SagaFaultPoint, TwoPhaseFaultPoint } from '../../../src/faults.js';
import { type FaultSpec, SAGA_FAULT_POINTS, TWO_PHASE_FAULT_POINTS } from '../../../src/testing/index.js';
import { DATABASES } from './world.js';

/** 1-2 faults at any 2PC point, of either kind, on any participant (or any), at the 1st or 2nd occurrence. */
export function twoPhaseFaults(
  points: readonly TwoPhaseFaultPoint[] = TWO_PHASE_FAULT_POINTS,
): fc.Arbitrary<FaultSpec[]> {
  const spec = fc.record(
    {
      point: fc.constantFrom(...points),
      participant: fc.constantFrom(...DATABASES),
      occurrence: fc.integer({ min: 1, max: 2 }),
      kind: fc.constantFrom<FaultSpec['kind']>('crash', 'fail'),
    },
    { requiredKeys: ['point', 'occurrence', 'kind'] },
  );
  return fc.array(spec, { minLength: 1, maxLength: 2 });
}

/**
 * Where a saga's `fail` (an ordinary error, not a crash) is meaningful: before a step or compensation, or
 * after an effect in the given steps. A failure after a *record* is no step failure: the runner stops driving
 * the saga and leaves it to recovery, which the crash kind covers.
 */
function failAllowed(point: SagaFaultPoint, step: string | undefined, failAfterEffect: readonly string[]) {
  if (point === 'saga:after-step-effect') return step !== undefined && failAfterEffect.includes(step);
  return point !== 'saga:after-step-record' && point !== 'saga:after-compensation-record';
}

/** 1-2 faults at any saga point of the given steps; `fail` only where {@link failAllowed}. */
export function sagaFaults(
  steps: readonly string[],
  failAfterEffect: readonly string[],
  points: readonly SagaFaultPoint[] = SAGA_FAULT_POINTS,
): fc.Arbitrary<FaultSpec[]> {
  const spec = fc
    .record({
      point: fc.constantFrom(...points),
      step: fc.constantFrom(...steps),
      occurrence: fc.integer({ min: 1, max: 2 }),
      kind: fc.constantFrom<FaultSpec['kind']>('crash', 'fail'),
    })
    .map((s): FaultSpec => {
      const allowed = failAllowed(s.point as SagaFaultPoint, s.step, failAfterEffect);
      return allowed ? s : { ...s, kind: 'crash' };
    });
  return fc.array(spec, { minLength: 1, maxLength: 2 });
}
