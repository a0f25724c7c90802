import { withTransaction } from '../../../src/db/queryable.js';
import {
  InDoubtError,
  isSimulatedCrash,
  StepRejectedError,
  TwoPhaseCoordinator,
} from '../../../src/index.js';
import { FaultPlan, type FaultSpec } from '../../../src/testing/index.js';
import {
  applyLeg,
  bankViolations,
  databaseOf,
  mixedIn,
  readBank,
  readBankPart,
  resetBank,
  type Transfer,
  visibleIn,
} from './bank.js';
import { startReader } from './reader.js';
import { RunStats } from './stats.js';
import { LOG_DATABASE, recoverUntilClean, SCHEMA, sleep, type World } from './world.js';

/** One generated 2PC bank run. */
export interface TwoPhaseBankCase {
  transfers: Transfer[];
  faults: FaultSpec[];
  /** The decision rides in the log participant's branch, or is a separate insert. */
  decisionInLogParticipant: boolean;
}

/** How a transfer's `transaction()` call ended, and when. */
type Ended = {
  status: 'committed' | 'refused' | 'aborted' | 'crashed' | 'in-doubt' | 'not-started';
  atMs: number;
};

/** What the runs exercised, and the mixed states their readers saw (printed after the suite). */
export const twoPhaseBankStats = new RunStats();

/**
 * How a transfer is carried out. `txkit` is the real coordinator; the broken variants are what the property
 * must catch: legs committed one by one with no prepare and no decision, and a coordinator whose decision log
 * does not survive the crash (its rows are gone when the restarted coordinator recovers: presumed abort then
 * rolls back branches of a transaction that had committed elsewhere).
 */
export type TwoPhaseVariant = 'txkit' | 'one-by-one-without-prepare' | 'decision-log-lost';

/**
 * Runs the transfers concurrently through a coordinator with the fault plan, "restarts" (a new coordinator,
 * same id, no faults) and recovers, then checks the invariants. Throws with the violations.
 */
export async function runTwoPhaseBank(
  world: World,
  input: TwoPhaseBankCase,
  variant: TwoPhaseVariant = 'txkit',
): Promise<void> {
  await resetBank(world);
  const plan = new FaultPlan(input.faults);
  const options = {
    id: 'bank',
    participants: world.participants(),
    log: world.pool(LOG_DATABASE),
    decisionInLogParticipant: input.decisionInLogParticipant,
    schema: SCHEMA,
    // Short, so that recovery may abort undecided branches soon; a distributed deadlock (two transfers
    // locking each other's accounts on two servers, which no single server can see) ends in this timeout.
    prepareTimeoutMs: 400,
    lockTimeoutMs: 200,
  };
  const coordinator = new TwoPhaseCoordinator({ ...options, faults: plan.hook });
  coordinator.on('error', () => {});
  const txIds = new Map<string, string>();
  const ended = new Map<string, Ended>();
  const reader = startReader(world, readBankPart);

  await Promise.all(
    input.transfers.map(async (t) => {
      await sleep(t.delayMs);
      // A dead process starts nothing new.
      if (plan.crashed) return ended.set(t.id, { status: 'not-started', atMs: Date.now() });
      try {
        if (variant !== 'one-by-one-without-prepare') {
          await coordinator.transaction(async (tx) => {
            txIds.set(t.id, tx.id);
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
          });
        } else {
          await oneByOneWithoutPrepare(world, plan, t);
        }
        ended.set(t.id, { status: 'committed', atMs: Date.now() });
      } catch (error) {
        const status = isSimulatedCrash(error)
          ? 'crashed'
          : error instanceof InDoubtError
            ? 'in-doubt'
            : error instanceof StepRejectedError
              ? 'refused'
              : 'aborted';
        ended.set(t.id, { status, atMs: Date.now() });
      }
    }),
  );

  if (variant === 'decision-log-lost')
    await world.pool(LOG_DATABASE).query(`TRUNCATE ${SCHEMA}.two_phase_decisions`);
  const restarted = new TwoPhaseCoordinator(options);
  restarted.on('error', () => {});
  const left = await recoverUntilClean(world, () => restarted.recover());
  const recoveredAt = Date.now();
  const readings = await reader.stop();
  const final = await readBank(world);

  const violations = bankViolations(final, input.transfers);
  if (left.prepared.length > 0)
    violations.push(`prepared transactions left: ${left.prepared.map((p) => p.gid)}`);
  const committed = (id: string) => final.effects.some((e) => e.transfer === id);
  for (const t of input.transfers) {
    const end = ended.get(t.id);
    if (end?.status === 'committed' && !committed(t.id))
      violations.push(`${t.id} reported committed, is not`);
    if ((end?.status === 'refused' || end?.status === 'aborted') && committed(t.id)) {
      violations.push(`${t.id} reported ${end.status}, is committed`);
    }
  }

  // Visibility. Nothing of an aborted transfer is ever seen; a transfer seen half-done was committing: its
  // decision was reached before the reading ended, and its commit phase (until the call returned, or until
  // recovery finished it) had not ended before the reading began.
  let mixed = 0;
  for (const reading of readings) {
    for (const id of visibleIn(reading)) {
      if (!committed(id)) violations.push(`${id} was aborted but a reader saw it at ${reading.startMs}`);
    }
    const half = mixedIn(reading, input.transfers);
    if (half.length > 0) mixed++;
    for (const t of half) {
      const txId = txIds.get(t.id);
      const decidedAt = plan.reached.find(
        (r) => r.site.id === txId && r.site.point === '2pc:before-decision',
      )?.atMs;
      const end = ended.get(t.id);
      const endAt = end?.status === 'committed' ? end.atMs : recoveredAt;
      const inCommitPhase = decidedAt !== undefined && decidedAt <= reading.endMs && reading.startMs <= endAt;
      if (!inCommitPhase) {
        twoPhaseBankStats.add('mixed outside commit phase');
        violations.push(`${t.id} seen half-done outside its commit phase (reading at ${reading.startMs})`);
      }
    }
  }
  twoPhaseBankStats.add('runs');
  twoPhaseBankStats.add('readings', readings.length);
  twoPhaseBankStats.add('mixed readings', mixed);
  twoPhaseBankStats.addFaults(plan.fired);
  for (const end of ended.values()) twoPhaseBankStats.add(`transfer ${end.status}`);

  if (violations.length > 0) {
    throw new Error(`${violations.join('\n')}\n${plan.describe()}\nended: ${JSON.stringify([...ended])}`);
  }
}

/**
 * The broken variant: each leg commits on its own database, one after the other, with no prepare and no
 * decision — a crash (the `2pc:before-commit` point, reused here) between the two commits loses money.
 */
async function oneByOneWithoutPrepare(world: World, plan: FaultPlan, t: Transfer): Promise<void> {
  const id = `naive-${t.id}`;
  await withTransaction(world.pool(databaseOf(t.from)), (client) => applyLeg(client, t, 'debit', 'action'));
  await plan.hook({ point: '2pc:before-commit', id, participant: databaseOf(t.to) });
  await withTransaction(world.pool(databaseOf(t.to)), (client) => applyLeg(client, t, 'credit', 'action'));
}
