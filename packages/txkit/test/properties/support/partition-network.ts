import pg from 'pg';
import { boundedPool } from '../../../src/db/bounded-pool.js';
import type { FaultHook, FaultSite } from '../../../src/faults.js';
import type { SagaRunnerOptions } from '../../../src/index.js';
import {
  type FaultProxy,
  type FaultSchedulePlayback,
  type FaultScheduleStep,
  playFaultSchedule,
} from '../../../src/testing/index.js';
import type { PointPartition } from './partition-arbitraries.js';
import type { StepPolicies } from './step-policies.js';
import { DATABASES, type DatabaseName, LOG_DATABASE, type World } from './world.js';

/**
 * One run's network: a pool per database through the fault proxy (what the application uses), the random
 * partitions played from `start()`, the partitions at protocol points fired by `hook`, `heal()`, which ends
 * them all (every upstream back in pass), and `close()`, which ends the pools once recovery is done.
 */
export interface PartitionedNetwork {
  /** The world as the application sees it: every pool through the proxy, each round trip bounded. */
  readonly app: World;
  /** The raw pools through the proxy (give them to txkit, which bounds them itself). */
  readonly pools: Record<DatabaseName, pg.Pool>;
  /** Partitions at protocol points: pass as (or compose into) a `faults` hook. */
  readonly hook: FaultHook;
  /** Every switch applied so far, random or at a point, for failure messages. */
  readonly applied: string[];
  start(): void;
  heal(): Promise<void>;
  close(): Promise<void>;
}

function matches(partition: PointPartition, site: FaultSite): boolean {
  return site.point === partition.point && (partition.step === undefined || partition.step === site.step);
}

/** Plays a run's partitions: the random schedule from `start()`, those at protocol points from `hook`. */
export interface PartitionDriver {
  readonly hook: FaultHook;
  /** Every switch applied so far, for failure messages. */
  readonly applied: string[];
  start(): void;
  /**
   * Whether the partitions are over for now: the random schedule played to its end (its last switch is a heal)
   * and no partition at a point is waiting for its heal. A point not reached yet may still start one.
   */
  quiet(): boolean;
  /** Ends every partition: no more switches, every upstream back in pass. */
  heal(): Promise<void>;
}

export function partitionDriver(
  proxy: FaultProxy,
  plan: { random: FaultScheduleStep[]; atPoints: PointPartition[] },
): PartitionDriver {
  const applied: string[] = [];
  const seen = new Map<PointPartition, number>();
  const heals = new Set<NodeJS.Timeout>();
  const switches = new Set<Promise<void>>();
  let healed = false;
  let playback: FaultSchedulePlayback | undefined;
  let played = false;
  const startedAt = Date.now();

  const set = (upstream: string, mode: FaultScheduleStep['mode'], why: string) => {
    if (healed) return Promise.resolve();
    applied.push(`${Date.now() - startedAt}ms ${upstream} ${JSON.stringify(mode)} (${why})`);
    const switching = proxy.set(upstream, mode).finally(() => switches.delete(switching));
    switches.add(switching);
    return switching;
  };

  const hook: FaultHook = async (site) => {
    for (const partition of plan.atPoints) {
      if (!matches(partition, site)) continue;
      const count = (seen.get(partition) ?? 0) + 1;
      seen.set(partition, count);
      if (count !== partition.occurrence) continue;
      await set(
        partition.upstream,
        partition.mode,
        `at ${site.point} ${site.step ?? site.participant ?? ''}`,
      );
      const heal = setTimeout(() => {
        heals.delete(heal);
        void set(partition.upstream, 'pass', 'heal');
      }, partition.healAfterMs);
      heals.add(heal);
    }
  };

  return {
    hook,
    applied,
    start() {
      playback = playFaultSchedule(proxy, plan.random);
      playback.done.then(
        () => {
          played = true;
        },
        () => {},
      );
    },
    quiet: () => played && heals.size === 0,
    async heal() {
      await playback?.stop();
      for (const step of playback?.applied ?? [])
        applied.push(`random ${step.atMs}ms ${step.upstream} ${JSON.stringify(step.mode)}`);
      healed = true;
      for (const heal of heals) clearTimeout(heal);
      await Promise.allSettled([...switches]);
      for (const name of proxy.names) await proxy.set(name, 'pass');
    },
  };
}

/** A pool per database through the proxy, whose idle connections may be cut (their errors are expected). */
export function proxiedPools(world: World, proxy: FaultProxy): Record<DatabaseName, pg.Pool> {
  return Object.fromEntries(
    DATABASES.map((name) => {
      const pool = new pg.Pool({
        connectionString: proxy.url(name, world.dbs.on(name).connectionString),
        max: 10,
      });
      pool.on('error', () => {});
      return [name, pool];
    }),
  ) as Record<DatabaseName, pg.Pool>;
}

/** Builds the network of one run; `responseTimeoutMs` bounds the application's own pools (`app`). */
export function partitionedNetwork(
  world: World,
  proxy: FaultProxy,
  plan: { random: FaultScheduleStep[]; atPoints: PointPartition[]; responseTimeoutMs: number },
): PartitionedNetwork {
  const pools = proxiedPools(world, proxy);
  const bounded = (name: DatabaseName) => boundedPool(pools[name], plan.responseTimeoutMs);
  const app: World = {
    ...world,
    pool: bounded,
    participants: () => ({ a: bounded('a'), b: bounded('b'), c: bounded('c') }),
  };
  const driver = partitionDriver(proxy, plan);
  return {
    app,
    pools,
    hook: driver.hook,
    applied: driver.applied,
    start: () => driver.start(),
    heal: () => driver.heal(),
    close: async () => {
      await Promise.all(Object.values(pools).map((p) => p.end()));
    },
  };
}

/** A saga workload through a partitioned network: the runner's options and the documented bound of run(). */
export interface PartitionedSagas {
  network: PartitionedNetwork;
  runner: Partial<SagaRunnerOptions>;
  /** The steps' retry policies and time limit. */
  policies: StepPolicies;
  /** The longest a `run()` may take by `docs/operations.md`, with these options and the saga's steps. */
  boundMs: number;
}

/** How long a stop or close of a run's clients may take after healing before it counts as a hang. */
export const STOP_BOUND_MS = 15_000;

/**
 * A stop or close after healing, bounded: one that never returns (a client waiting for a reply its lost
 * connection will never bring) fails the run with what hung, its seed and path, instead of the whole property
 * hanging until vitest's timeout (the soak found such a hang: see SOAK.md).
 */
export async function stopsWithin(
  what: string,
  stopping: Promise<unknown>,
  ms = STOP_BOUND_MS,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not return within ${ms} ms after healing`)), ms);
  });
  try {
    await Promise.race([stopping, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** Room for a loaded machine's timers on top of a documented bound (event-loop lag, not protocol time). */
export const SCHEDULING_SLACK_MS = 5_000;

/** What runSagaWorkload takes for a partitioned run. */
export function sagaWorkloadNetwork(p: PartitionedSagas) {
  return {
    log: p.network.pools[LOG_DATABASE],
    options: p.runner,
    hook: p.network.hook,
    start: () => p.network.start(),
    heal: () => p.network.heal(),
  };
}

/** Calls that took longer than the bound (a crashed one is a dead process: no caller waits on it). */
export function boundViolations(
  run: { returned: Map<string, string>; durations: Map<string, number> },
  boundMs: number,
): string[] {
  const violations: string[] = [];
  for (const [id, ms] of run.durations) {
    if (run.returned.get(id) !== 'crashed' && ms > boundMs + SCHEDULING_SLACK_MS)
      violations.push(`${id}: run() took ${ms} ms, bound ${boundMs} ms`);
  }
  return violations;
}

/** The part of a failure message that says what the network did and how long each call took. */
export function partitionReport(
  run: { durations: Map<string, number> },
  partitioned: PartitionedSagas | undefined,
): string {
  if (!partitioned) return '';
  return `\ndurations: ${JSON.stringify([...run.durations])}\nnetwork: ${partitioned.network.applied.join('; ')}`;
}
