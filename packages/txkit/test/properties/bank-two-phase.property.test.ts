import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { BANK_DDL, transfersArbitrary } from './support/bank.js';
import { runTwoPhaseBank, twoPhaseBankStats } from './support/bank-two-phase.js';
import { twoPhaseFaults } from './support/fault-arbitraries.js';
import { assertProperty, propertyRuns, propertyTimeout } from './support/runs.js';
import { createWorld, type World } from './support/world.js';

// Bank over two-phase commit: random concurrent transfers among accounts on the three databases, random
// crashes and failures at every 2PC point, then a restarted coordinator recovers. Invariants: money conserved,
// no negative balance, every transfer all-or-nothing (and as its call reported), no step applied twice, no
// prepared transaction left; a concurrent reader never sees an aborted transfer, and sees one half-done only
// while its commit phase runs.

const runs = propertyRuns(25);
let world: World;

beforeAll(async () => {
  world = await createWorld('property bank 2pc', BANK_DDL);
});
afterAll(async () => {
  console.log(`[stats] 2PC bank: ${twoPhaseBankStats}`);
  await world?.drop();
});

describe('bank over 2PC', () => {
  it(
    'conserves money, all-or-nothing, nothing left, nothing aborted ever visible',
    async () => {
      await assertProperty(
        'bank 2PC',
        fc.asyncProperty(
          fc.record({
            transfers: transfersArbitrary,
            faults: twoPhaseFaults(),
            decisionInLogParticipant: fc.boolean(),
          }),
          (input) => runTwoPhaseBank(world, input),
        ),
        runs,
      );
    },
    propertyTimeout(runs),
  );
});
