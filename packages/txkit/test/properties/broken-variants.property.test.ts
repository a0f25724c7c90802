import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BANK_DDL, transfersArbitrary } from './support/bank.js';
import { FAIL_AFTER_EFFECT, runSagaBank, TRANSFER_STEPS } from './support/bank-saga.js';
import { runTwoPhaseBank } from './support/bank-two-phase.js';
import { sagaFaults, twoPhaseFaults } from './support/fault-arbitraries.js';
import { expectPropertyFails, propertyTimeout } from './support/runs.js';
import { createWorld, type World } from './support/world.js';

// The properties must be able to fail: each deliberately broken variant of a protocol is run through the same
// property and fast-check must find a counterexample. The fault arbitraries are narrowed to the points that
// matter for each break; fast-check stops at the first counterexample (usually within a few runs).

const runs = 150;
let world: World;

beforeAll(async () => {
  world = await createWorld('property broken variants', BANK_DDL);
});
afterAll(() => world?.drop());

describe('deliberately broken variants are caught by the bank property', () => {
  it(
    '2PC: committing participants one by one without prepare or decision loses money on a crash',
    async () => {
      const report = await expectPropertyFails(
        'bank, one-by-one commits',
        fc.asyncProperty(
          fc.record({
            transfers: transfersArbitrary,
            faults: twoPhaseFaults(['2pc:before-commit']),
            decisionInLogParticipant: fc.boolean(),
          }),
          (input) => runTwoPhaseBank(world, input, 'one-by-one-without-prepare'),
        ),
        runs,
      );
      // Lost money after a crash, or (without a crash) a transfer seen half-done with no commit phase at all.
      expect(report).toMatch(/money not conserved|half-done/);
    },
    propertyTimeout(runs),
  );

  it(
    '2PC: a decision log that does not survive the crash lets recovery abort a committed transaction',
    async () => {
      const report = await expectPropertyFails(
        'bank, decision log lost',
        fc.asyncProperty(
          fc.record({
            transfers: transfersArbitrary,
            faults: twoPhaseFaults(['2pc:after-decision', '2pc:before-commit']),
            decisionInLogParticipant: fc.boolean(),
          }),
          (input) => runTwoPhaseBank(world, input, 'decision-log-lost'),
        ),
        runs,
      );
      expect(report).toMatch(/money not conserved|half-done|reported committed/);
    },
    propertyTimeout(runs),
  );

  it(
    'saga: legs without the barrier apply a step twice, or compensate a debit that never happened',
    async () => {
      const report = await expectPropertyFails(
        'bank saga, no barrier',
        fc.asyncProperty(
          fc.record({
            transfers: transfersArbitrary,
            faults: sagaFaults(TRANSFER_STEPS, FAIL_AFTER_EFFECT, ['saga:after-step-effect']),
          }),
          (input) => runSagaBank(world, input, 'no-barrier'),
        ),
        runs,
      );
      // A re-run after a crash applies twice; a refused debit's compensation refunds money never taken.
      expect(report).toMatch(/applied twice|money not conserved/);
    },
    propertyTimeout(runs),
  );

  it(
    'saga: skipping the compensation of the debit loses the money of every refused credit',
    async () => {
      const report = await expectPropertyFails(
        'bank saga, debit not compensated',
        fc.asyncProperty(
          fc.record({
            transfers: transfersArbitrary,
            faults: sagaFaults(TRANSFER_STEPS, FAIL_AFTER_EFFECT, ['saga:before-step']),
          }),
          (input) => runSagaBank(world, input, 'skip-compensation'),
        ),
        runs,
      );
      expect(report).toMatch(/money not conserved|half-done/);
    },
    propertyTimeout(runs),
  );
});
