import { isSimulatedCrash } from '../../../src/faults.js';
import {
  InDoubtError,
  StepRejectedError,
  TwoPhaseCoordinator,
  type TwoPhaseTransaction,
} from '../../../src/index.js';
import { FaultPlan, type FaultSpec, type Leftovers } from '../../../src/testing/index.js';
import { type Reading, startReader } from './reader.js';
import type { RunStats } from './stats.js';
import { LOG_DATABASE, recoverUntilClean, SCHEMA, sleep, type World } from './world.js';

/** How one item's `transaction()` call ended, and when. */
export interface Ended {
  status: 'committed' | 'refused' | 'aborted' | 'crashed' | 'in-doubt' | 'not-started';
  atMs: number;
}

/** A 2PC workload: items run concurrently (after their delay), each as one transaction. */
export interface TwoPhaseWorkload<Item extends { id: string; delayMs: number }, Part> {
  items: readonly Item[];
  faults: FaultSpec[];
  decisionInLogParticipant: boolean;
  /** The transaction's work; `txkit` runs it through the coordinator, a broken variant may replace it. */
  work: (tx: TwoPhaseTransaction, item: Item) => Promise<void>;
  /** Replaces the coordinator (a broken variant): runs one item with the plan's hook. */
  instead?: (plan: FaultPlan, item: Item) => Promise<void>;
  /** Runs before the restarted coordinator recovers (a broken variant may lose its decision log here). */
  beforeRecovery?: () => Promise<void>;
  /** What the concurrent reader reads from each database. */
  read: (pool: import('pg').Pool) => Promise<Part>;
}

export interface TwoPhaseRun<Part> {
  plan: FaultPlan;
  ended: Map<string, Ended>;
  /** Item id → transaction id (to find its fault sites). */
  txIds: Map<string, string>;
  readings: Reading<Part>[];
  left: Leftovers;
  recoveredAt: number;
}

/**
 * Runs the items concurrently through a coordinator with the fault plan while a reader samples the databases,
 * then "restarts" (a new coordinator with a new id, no faults) and recovers until nothing is prepared.
 */
export async function runTwoPhaseWorkload<Item extends { id: string; delayMs: number }, Part>(
  world: World,
  w: TwoPhaseWorkload<Item, Part>,
): Promise<TwoPhaseRun<Part>> {
  const plan = new FaultPlan(w.faults);
  const options = {
    id: 'props',
    participants: world.participants(),
    log: world.pool(LOG_DATABASE),
    decisionInLogParticipant: w.decisionInLogParticipant,
    schema: SCHEMA,
    // Short, so that recovery may abort undecided branches soon; a distributed deadlock (two transactions
    // locking each other's rows on two servers, which no single server can see) ends in this timeout.
    prepareTimeoutMs: 400,
    lockTimeoutMs: 200,
    // The "dead" coordinator renews its lease only once (no recovery service): it expires soon after.
    leaseMs: 300,
  };
  const coordinator = new TwoPhaseCoordinator({ ...options, faults: plan.hook });
  coordinator.on('error', () => {});
  const ended = new Map<string, Ended>();
  const txIds = new Map<string, string>();
  const reader = startReader(world, w.read);

  await Promise.all(
    w.items.map(async (item) => {
      await sleep(item.delayMs);
      // A dead process starts nothing new.
      if (plan.crashed) return ended.set(item.id, { status: 'not-started', atMs: Date.now() });
      try {
        if (w.instead) await w.instead(plan, item);
        else {
          await coordinator.transaction(async (tx) => {
            txIds.set(item.id, tx.id);
            await w.work(tx, item);
          });
        }
        ended.set(item.id, { status: 'committed', atMs: Date.now() });
      } catch (error) {
        ended.set(item.id, { status: endStatus(error), atMs: Date.now() });
      }
    }),
  );

  await w.beforeRecovery?.();
  // As deployments restart: under a new id, which takes over the dead one's branches once its lease expires.
  const restarted = new TwoPhaseCoordinator({ ...options, id: `${options.id}-successor` });
  restarted.on('error', () => {});
  const left = await recoverUntilClean(world, () => restarted.recover());
  const recoveredAt = Date.now();
  const readings = await reader.stop();
  return { plan, ended, txIds, readings, left, recoveredAt };
}

function endStatus(error: unknown): Ended['status'] {
  if (isSimulatedCrash(error)) return 'crashed';
  if (error instanceof InDoubtError) return 'in-doubt';
  return error instanceof StepRejectedError ? 'refused' : 'aborted';
}

/**
 * The 2PC checks every workload shares: nothing prepared is left; what a call reported is what happened; a
 * reader never saw anything of an aborted item, and saw an item half-done only during its commit phase —
 * from its decision (reached before the reading ended) until its call returned or recovery finished it (not
 * before the reading began). Returns the violations and counts the mixed readings.
 */
export function twoPhaseViolations<Part>(
  run: TwoPhaseRun<Part>,
  items: readonly { id: string }[],
  view: {
    committed: (id: string) => boolean;
    visible: (reading: Reading<Part>) => Iterable<string>;
    halfDone: (reading: Reading<Part>) => Iterable<string>;
  },
  stats: RunStats,
): string[] {
  const violations: string[] = [];
  if (run.left.prepared.length > 0) {
    violations.push(`prepared transactions left: ${run.left.prepared.map((p) => p.gid)}`);
  }
  for (const { id } of items) {
    const end = run.ended.get(id);
    if (end?.status === 'committed' && !view.committed(id))
      violations.push(`${id} reported committed, is not`);
    if ((end?.status === 'refused' || end?.status === 'aborted') && view.committed(id)) {
      violations.push(`${id} reported ${end.status}, is committed`);
    }
  }
  let mixed = 0;
  for (const reading of run.readings) {
    for (const id of view.visible(reading)) {
      if (!view.committed(id)) violations.push(`${id} was aborted but a reader saw it at ${reading.startMs}`);
    }
    let half = false;
    for (const id of view.halfDone(reading)) {
      half = true;
      const txId = run.txIds.get(id);
      const decidedAt = run.plan.reached.find(
        (r) => r.site.id === txId && r.site.point === '2pc:before-decision',
      )?.atMs;
      const end = run.ended.get(id);
      const endAt = end?.status === 'committed' ? end.atMs : run.recoveredAt;
      if (!(decidedAt !== undefined && decidedAt <= reading.endMs && reading.startMs <= endAt)) {
        stats.add('mixed outside commit phase');
        violations.push(`${id} seen half-done outside its commit phase (reading at ${reading.startMs})`);
      }
    }
    if (half) mixed++;
  }
  stats.add('runs');
  stats.add('readings', run.readings.length);
  stats.add('mixed readings', mixed);
  stats.addFaults(run.plan.fired);
  for (const end of run.ended.values()) stats.add(`call ${end.status}`);
  return violations;
}
