import { barrier, saga, withTransaction } from '../../../src/index.js';
import type { FaultSpec } from '../../../src/testing/index.js';
import {
  appliedCounts,
  applyLeg,
  bankViolations,
  databaseOf,
  type Leg,
  mixedIn,
  type Op,
  readBank,
  readBankPart,
  resetBank,
  type Transfer,
} from './bank.js';
import {
  boundViolations,
  type PartitionedSagas,
  partitionReport,
  sagaWorkloadNetwork,
} from './partition-network.js';
import { runSagaWorkload, sagaViolations } from './saga-workload.js';
import { RunStats } from './stats.js';
import { QUICK_RETRIES, type StepPolicies } from './step-policies.js';
import { SCHEMA, type World } from './world.js';

/** One generated saga bank run. */
export interface SagaBankCase {
  transfers: Transfer[];
  faults: FaultSpec[];
}

/**
 * How the transfer saga is built. `txkit`: barrier-guarded legs, each compensated. The broken variants are
 * what the property must catch: legs without the barrier (a step re-run after a crash applies twice), and a
 * debit without compensation (a refused credit loses the money).
 */
export type SagaVariant = 'txkit' | 'no-barrier' | 'skip-compensation';

/**
 * The steps a saga fault may name, and those where a `fail` after the effect is injected. Not the credit: a
 * credit failing after it took effect is compensated by taking the money back from the receiver, who may have
 * spent it meanwhile (a saga holds no locks): the balance would go negative. That is the saga's lack of
 * isolation, a property of the design rather than of txkit, and the bank must be designed around it (e.g.
 * the credit as the last, never-failing step); see the README.
 */
export const TRANSFER_STEPS = ['debit', 'credit'] as const;
export const FAIL_AFTER_EFFECT = ['debit'] as const;

/** What the runs exercised, and the intermediate states their readers saw (printed after the suite). */
export const sagaBankStats = new RunStats('bank saga');

/** The transfer saga: debit the sender, then credit the receiver, each leg a local write on its database. */
export function transferSaga(world: World, variant: SagaVariant, policies: StepPolicies = QUICK_RETRIES) {
  const write = (leg: Leg, op: Op) => async (ctx: { sagaId: string; step: string; input: Transfer }) => {
    const account = leg === 'debit' ? ctx.input.from : ctx.input.to;
    await withTransaction(world.pool(databaseOf(account)), async (client) => {
      // The barrier's insert commits with the write: each of action and compensation applies at most once.
      if (variant !== 'no-barrier' && !(await barrier(client, ctx, op, { schema: SCHEMA })).apply) return;
      await applyLeg(client, ctx.input, leg, op);
    });
    return { leg };
  };
  const step = (leg: Leg) => ({
    run: write(leg, 'action'),
    ...(variant === 'skip-compensation' && leg === 'debit'
      ? {}
      : {
          compensate: async (ctx: { sagaId: string; step: string; input: Transfer }) =>
            void (await write(leg, 'compensate')(ctx)),
        }),
    ...policies,
  });
  return saga<Transfer>('transfer').step('debit', step('debit')).step('credit', step('credit')).build();
}

/**
 * Runs the transfers as concurrent sagas through a runner with the fault plan, "restarts" (another runner,
 * no faults) and recovers until no saga is unfinished, then checks the invariants. Throws with the violations.
 */
export async function runSagaBank(
  world: World,
  input: SagaBankCase,
  variant: SagaVariant = 'txkit',
  partitioned?: PartitionedSagas,
) {
  await resetBank(world);
  const run = await runSagaWorkload(world, {
    items: input.transfers,
    faults: input.faults,
    definition: transferSaga(partitioned?.network.app ?? world, variant, partitioned?.policies),
    read: readBankPart,
    ...(partitioned ? { network: sagaWorkloadNetwork(partitioned) } : {}),
  });
  await partitioned?.network.close();
  const final = await readBank(world);
  const violations = [
    ...(partitioned ? boundViolations(run, partitioned.boundMs) : []),
    ...bankViolations(final, input.transfers),
    ...sagaViolations(run, { halfDone: (r) => mixedIn(r, input.transfers).map((t) => t.id) }, sagaBankStats),
  ];
  for (const t of input.transfers) {
    const end = run.status.get(t.id);
    const c = appliedCounts(final, t.id);
    const done =
      c.debit.action === 1 && c.credit.action === 1 && c.debit.compensate + c.credit.compensate === 0;
    const undone = c.debit.action === c.debit.compensate && c.credit.action === c.credit.compensate;
    if (end === 'completed' && !done) violations.push(`${t.id} completed but ${JSON.stringify(c)}`);
    if (end === 'compensated' && !undone) violations.push(`${t.id} compensated but ${JSON.stringify(c)}`);
    if (end === undefined && !undone) violations.push(`${t.id} has no saga but effects ${JSON.stringify(c)}`);
  }
  if (violations.length > 0) {
    throw new Error(
      `${violations.join('\n')}\n${run.plan.describe()}\nreturned: ${JSON.stringify([...run.returned])}` +
        partitionReport(run, partitioned),
    );
  }
}
