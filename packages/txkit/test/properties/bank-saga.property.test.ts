import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BANK_DDL, transfersArbitrary } from './support/bank.js';
import { FAIL_AFTER_EFFECT, runSagaBank, sagaBankStats, TRANSFER_STEPS } from './support/bank-saga.js';
import { sagaFaults } from './support/fault-arbitraries.js';
import { assertProperty, propertyRuns, propertyTimeout } from './support/runs.js';
import { createWorld, type World } from './support/world.js';

// Bank over sagas: random concurrent transfer sagas (debit, then credit; barrier-guarded legs), random
// crashes and failures at every saga point, then another runner recovers. Invariants: money conserved, no
// negative balance, every transfer completed or fully compensated (as its log says), no step applied twice,
// no saga left unfinished, no half-done transfer once they end.

const runs = propertyRuns(25);
let world: World;

beforeAll(async () => {
  world = await createWorld('property bank saga', BANK_DDL);
});
afterAll(async () => {
  console.log(`[stats] saga bank: ${sagaBankStats}`);
  await world?.drop();
});

describe('bank over sagas', () => {
  it(
    'conserves money, completes or compensates, nothing left, no step twice',
    async () => {
      await assertProperty(
        'bank saga',
        fc.asyncProperty(
          fc.record({ transfers: transfersArbitrary, faults: sagaFaults(TRANSFER_STEPS, FAIL_AFTER_EFFECT) }),
          (input) => runSagaBank(world, input),
        ),
        runs,
      );
      // Measured, not assumed: a saga's intermediate states are visible to readers while it runs (none is left
      // at the end: the invariants check the final state).
      expect(sagaBankStats.get('mixed readings')).toBeGreaterThan(0);
    },
    propertyTimeout(runs),
  );
});
