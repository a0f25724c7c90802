import { withTransaction } from '../../../src/db/queryable.js';
import type { FaultSpec } from '../../../src/testing/index.js';
import {
  applyLeg,
  type BankState,
  bankViolations,
  databaseOf,
  mixedIn,
  readBank,
  readBankPart,
  resetBank,
  type Transfer,
  visibleIn,
} from './bank.js';
import { RunStats } from './stats.js';
import { runTwoPhaseWorkload, twoPhaseViolations } from './two-phase-workload.js';
import { LOG_DATABASE, SCHEMA, type World } from './world.js';

/** One generated 2PC bank run. */
export interface TwoPhaseBankCase {
  transfers: Transfer[];
  faults: FaultSpec[];
  /** The decision rides in the log participant's branch, or is a separate insert. */
  decisionInLogParticipant: boolean;
}

/** What the runs exercised, and the mixed states their readers saw (printed after the suite). */
export const twoPhaseBankStats = new RunStats('bank 2PC');

/**
 * How a transfer is carried out. `txkit` is the real coordinator; the broken variants are what the property
 * must catch: legs committed one by one with no prepare and no decision, and a coordinator whose decision log
 * does not survive the crash (its rows are gone when the restarted coordinator recovers: presumed abort then
 * rolls back branches of a transaction that had committed elsewhere).
 */
export type TwoPhaseVariant = 'txkit' | 'one-by-one-without-prepare' | 'decision-log-lost';

/**
 * Runs the transfers concurrently through a coordinator with the fault plan, "restarts" and recovers, then
 * checks the bank invariants and the 2PC visibility rules. Throws with the violations.
 */
export async function runTwoPhaseBank(
  world: World,
  input: TwoPhaseBankCase,
  variant: TwoPhaseVariant = 'txkit',
): Promise<void> {
  await resetBank(world);
  const run = await runTwoPhaseWorkload<Transfer, BankState>(world, {
    items: input.transfers,
    faults: input.faults,
    decisionInLogParticipant: input.decisionInLogParticipant,
    read: readBankPart,
    work: async (tx, t) => {
      await applyLeg(
        { query: (text, values) => tx.query(databaseOf(t.from), text, values) },
        t,
        'debit',
        'action',
      );
      await applyLeg(
        { query: (text, values) => tx.query(databaseOf(t.to), text, values) },
        t,
        'credit',
        'action',
      );
    },
    ...(variant === 'one-by-one-without-prepare'
      ? { instead: (plan, t) => oneByOneWithoutPrepare(world, plan.hook, t) }
      : {}),
    ...(variant === 'decision-log-lost'
      ? {
          beforeRecovery: async () =>
            void (await world.pool(LOG_DATABASE).query(`TRUNCATE ${SCHEMA}.two_phase_decisions`)),
        }
      : {}),
  });
  const final = await readBank(world);
  const committed = (id: string) => final.effects.some((e) => e.transfer === id);
  const violations = [
    ...bankViolations(final, input.transfers),
    ...twoPhaseViolations(
      run,
      input.transfers,
      {
        committed,
        visible: visibleIn,
        halfDone: (reading) => mixedIn(reading, input.transfers).map((t) => t.id),
      },
      twoPhaseBankStats,
    ),
  ];
  if (violations.length > 0) {
    throw new Error(
      `${violations.join('\n')}\n${run.plan.describe()}\nended: ${JSON.stringify([...run.ended])}`,
    );
  }
}

/**
 * The broken variant: each leg commits on its own database, one after the other, with no prepare and no
 * decision — a crash (the `2pc:before-commit` point, reused here) between the two commits loses money.
 */
async function oneByOneWithoutPrepare(
  world: World,
  hook: (site: { point: '2pc:before-commit'; id: string; participant: string }) => void | Promise<void>,
  t: Transfer,
): Promise<void> {
  await withTransaction(world.pool(databaseOf(t.from)), (client) => applyLeg(client, t, 'debit', 'action'));
  await hook({ point: '2pc:before-commit', id: `naive-${t.id}`, participant: databaseOf(t.to) });
  await withTransaction(world.pool(databaseOf(t.to)), (client) => applyLeg(client, t, 'credit', 'action'));
}
