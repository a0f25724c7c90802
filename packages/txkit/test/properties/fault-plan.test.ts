import { describe, expect, it } from 'vitest';
import { isSimulatedCrash } from '../../src/faults.js';
import {
  FaultPlan,
  InjectedFailure,
  SAGA_FAULT_POINTS,
  TWO_PHASE_FAULT_POINTS,
} from '../../src/testing/index.js';

// The fault plan itself (no database): which site fires, what it throws, and that a crashed process stays dead.

const site = (point: (typeof TWO_PHASE_FAULT_POINTS)[number], participant?: string) => ({
  point,
  id: 'tx1',
  ...(participant ? { participant } : {}),
});

/** What a hook call threw (the hook throws synchronously), or undefined. */
async function thrown(call: () => void | Promise<void>): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('FaultPlan', () => {
  it('fails at the n-th matching site only, and records what fired', async () => {
    const plan = new FaultPlan([
      { point: '2pc:before-prepare', participant: 'b', occurrence: 2, kind: 'fail' },
    ]);
    await plan.hook(site('2pc:before-prepare', 'b'));
    await plan.hook(site('2pc:before-prepare', 'a'));
    const error = await thrown(() => plan.hook(site('2pc:before-prepare', 'b')));
    expect(error).toBeInstanceOf(InjectedFailure);
    expect(isSimulatedCrash(error)).toBe(false);
    await plan.hook(site('2pc:before-prepare', 'b'));
    expect(plan.fired.map((f) => f.site)).toEqual([site('2pc:before-prepare', 'b')]);
    expect(plan.reached).toHaveLength(4);
    expect(plan.crashed).toBe(false);
  });

  it('crashes, and then every later site of the dead process crashes too', async () => {
    const plan = new FaultPlan([{ point: '2pc:after-decision', kind: 'crash' }]);
    await plan.hook(site('2pc:before-decision'));
    expect(() => plan.hook(site('2pc:after-decision'))).toThrow(/simulated crash at 2pc:after-decision/);
    expect(plan.crashed).toBe(true);
    const later = await thrown(() => plan.hook({ point: 'saga:before-step', id: 's', step: 'pay' }));
    expect(isSimulatedCrash(later)).toBe(true);
    expect(plan.fired).toHaveLength(1);
    expect(plan.describe()).toContain('crash@2pc:after-decision');
  });

  it('names every fault point of both protocols', () => {
    expect(TWO_PHASE_FAULT_POINTS).toHaveLength(6);
    expect(SAGA_FAULT_POINTS).toHaveLength(6);
  });
});
