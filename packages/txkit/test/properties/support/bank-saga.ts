import {
  barrier,
  InDoubtError,
  isSimulatedCrash,
  SagaRunner,
  saga,
  withTransaction,
} from '../../../src/index.js';
import { FaultPlan, type FaultSpec } from '../../../src/testing/index.js';
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
import { startReader } from './reader.js';
import { RunStats } from './stats.js';
import { LOG_DATABASE, recoverUntilClean, SCHEMA, sleep, type World } from './world.js';

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

/** The steps a saga fault may name, and where a `fail` after the effect is allowed (see the README). */
export const TRANSFER_STEPS = ['debit', 'credit'] as const;
export const FAIL_AFTER_EFFECT = ['debit'] as const;

/** What the runs exercised, and the intermediate states their readers saw (printed after the suite). */
export const sagaBankStats = new RunStats();

/** The transfer saga: debit the sender, then credit the receiver, each leg a local write on its database. */
export function transferSaga(world: World, variant: SagaVariant) {
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
    retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20 },
    compensationRetry: { maxAttempts: 5, initialDelayMs: 5, maxDelayMs: 50 },
    timeoutMs: 5_000,
  });
  return saga<Transfer>('transfer').step('debit', step('debit')).step('credit', step('credit')).build();
}

/**
 * Runs the transfers as concurrent sagas through a runner with the fault plan, "restarts" (another runner,
 * no faults) and recovers until no saga is unfinished, then checks the invariants. Throws with the violations.
 */
export async function runSagaBank(world: World, input: SagaBankCase, variant: SagaVariant = 'txkit') {
  await resetBank(world);
  const plan = new FaultPlan(input.faults);
  const definition = transferSaga(world, variant);
  const options = {
    pool: world.pool(LOG_DATABASE),
    sagas: [definition],
    schema: SCHEMA,
    leaseMs: 500,
    waitTimeoutMs: 3_000,
  };
  const runner = new SagaRunner({ ...options, id: 'bank', faults: plan.hook });
  runner.on('error', () => {});
  const returned = new Map<string, string>();
  const reader = startReader(world, readBankPart);

  await Promise.all(
    input.transfers.map(async (t) => {
      await sleep(t.delayMs);
      if (plan.crashed) return;
      try {
        returned.set(t.id, (await runner.run(definition, t, { key: t.id })).status);
      } catch (error) {
        // In doubt: this runner lost the saga (its lease ran out under load) and nobody finished it in time;
        // the restarted runner will. Anything else is a violation below.
        const answer = isSimulatedCrash(error)
          ? 'crashed'
          : error instanceof InDoubtError
            ? 'in-doubt'
            : null;
        returned.set(t.id, answer ?? `error: ${(error as Error).message}`);
      }
    }),
  );
  await runner.close();

  const restarted = new SagaRunner({ ...options, id: 'bank-restarted' });
  restarted.on('error', () => {});
  const left = await recoverUntilClean(world, () => restarted.recover());
  await restarted.close();
  const readings = await reader.stop();
  const final = await readBank(world);

  const violations = bankViolations(final, input.transfers);
  for (const saga of left.sagas) violations.push(`saga ${saga.id} left ${saga.status} at step ${saga.step}`);
  const { rows } = await world
    .pool(LOG_DATABASE)
    .query<{ key: string; status: string }>(`SELECT key, status FROM ${SCHEMA}.saga`);
  const status = new Map(rows.map((r) => [r.key, r.status]));
  for (const t of input.transfers) {
    const end = status.get(t.id);
    const c = appliedCounts(final, t.id);
    const done =
      c.debit.action === 1 && c.credit.action === 1 && c.debit.compensate + c.credit.compensate === 0;
    if (end === 'completed' && !done) violations.push(`${t.id} completed but ${JSON.stringify(c)}`);
    if (
      end === 'compensated' &&
      (c.debit.action !== c.debit.compensate || c.credit.action !== c.credit.compensate)
    ) {
      violations.push(`${t.id} compensated but ${JSON.stringify(c)}`);
    }
    if (end === undefined && (c.debit.action > 0 || c.credit.action > 0))
      violations.push(`${t.id} has no saga but effects`);
    const answer = returned.get(t.id);
    if ((answer === 'completed' || answer === 'compensated') && answer !== end) {
      violations.push(`${t.id}: run() answered ${answer}, the log says ${end}`);
    }
    if (answer?.startsWith('error')) violations.push(`${t.id}: run() failed: ${answer}`);
  }

  // Visibility: the saga's intermediate states are visible while it runs (counted, not forbidden); the final
  // state has none (bankViolations checks that no transfer is left half-done).
  sagaBankStats.add('runs');
  sagaBankStats.add('readings', readings.length);
  sagaBankStats.add('mixed readings', readings.filter((r) => mixedIn(r, input.transfers).length > 0).length);
  sagaBankStats.addFaults(plan.fired);
  for (const end of status.values()) sagaBankStats.add(`saga ${end}`);
  for (const answer of returned.values()) sagaBankStats.add(`run() ${answer}`);

  if (violations.length > 0) {
    throw new Error(
      `${violations.join('\n')}\n${plan.describe()}\nreturned: ${JSON.stringify([...returned])}`,
    );
  }
}
