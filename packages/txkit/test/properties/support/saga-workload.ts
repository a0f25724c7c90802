import { isConnectionError } from '../../../src/db/queryable.js';
import { type FaultHook, isSimulatedCrash } from '../../../src/faults.js';
import { InDoubtError, type SagaDefinition, SagaRunner, type SagaRunnerOptions } from '../../../src/index.js';
import type { AnySagaDefinition } from '../../../src/saga/saga-types.js';
import { FaultPlan, type FaultSpec, type Leftovers } from '../../../src/testing/index.js';
import { type Reading, startReader } from './reader.js';
import type { RunStats } from './stats.js';
import { LOG_DATABASE, recoverUntilClean, SCHEMA, sleep, type World } from './world.js';

/** A saga workload: items run concurrently (after their delay), each as one saga keyed by its id. */
export interface SagaWorkload<Item extends { id: string; delayMs: number }, Part> {
  items: readonly Item[];
  faults: FaultSpec[];
  definition: SagaDefinition<Item, Record<string, unknown>>;
  read: (pool: import('pg').Pool) => Promise<Part>;
  /**
   * A partitioned network: the first runner reaches its log through it (with these options), its hook fires
   * partitions at saga points, and it is healed before the restart. Without it the runner's log is direct.
   */
  network?: {
    log: import('pg').Pool;
    options: Partial<SagaRunnerOptions>;
    hook: FaultHook;
    start(): void;
    heal(): Promise<void>;
  };
}

export interface SagaRun<Part> {
  plan: FaultPlan;
  /** Item id → what `run()` answered: an outcome status, `crashed`, `in-doubt` or `error: …`. */
  returned: Map<string, string>;
  /** Item id → how long its `run()` took (ms), crashed ones included. */
  durations: Map<string, number>;
  /** Item id → the saga's final status in the log. */
  status: Map<string, string>;
  readings: Reading<Part>[];
  left: Leftovers;
  /** The restarted runner's recovery: its passes and what they resumed, then what they failed with. */
  recoveryErrors: string[];
}

/**
 * Runs the items as concurrent sagas through a runner with the fault plan while a reader samples the
 * databases, then "restarts" (another runner, no faults) and recovers until no saga is unfinished.
 */
export async function runSagaWorkload<Item extends { id: string; delayMs: number }, Part>(
  world: World,
  w: SagaWorkload<Item, Part>,
): Promise<SagaRun<Part>> {
  const plan = new FaultPlan(w.faults);
  const options = {
    pool: world.pool(LOG_DATABASE),
    sagas: [w.definition as unknown as AnySagaDefinition],
    schema: SCHEMA,
    leaseMs: 500,
    waitTimeoutMs: 3_000,
  };
  const network = w.network;
  const faults: FaultHook = network
    ? async (site) => {
        await network.hook(site);
        await plan.hook(site);
      }
    : plan.hook;
  const runner = new SagaRunner({
    ...options,
    ...network?.options,
    ...(network ? { pool: network.log } : {}),
    id: 'props',
    faults,
  });
  runner.on('error', () => {});
  const returned = new Map<string, string>();
  const durations = new Map<string, number>();
  const reader = startReader(world, w.read);
  network?.start();

  await Promise.all(
    w.items.map(async (item) => {
      await sleep(item.delayMs);
      // A dead process starts nothing new.
      if (plan.crashed) return;
      const started = Date.now();
      try {
        returned.set(item.id, (await runner.run(w.definition, item, { key: item.id })).status);
      } catch (error) {
        // In doubt: this runner lost the saga (its lease ran out under load) and nobody finished it in time;
        // the restarted runner will. Anything else is a violation (see sagaViolations).
        const answer = isSimulatedCrash(error)
          ? 'crashed'
          : error instanceof InDoubtError
            ? 'in-doubt'
            : null;
        // The log's lost connection leaking out of run() (raw, or as ResponseTimeoutError, instead of an
        // InDoubtError) is told apart: a known bug, see sagaViolations' option.
        const raw = isConnectionError(error) ? 'raw connection ' : '';
        returned.set(
          item.id,
          answer ?? `${raw}error: ${(error as Error)?.name}: ${(error as Error)?.message}`,
        );
      } finally {
        durations.set(item.id, Date.now() - started);
      }
    }),
  );
  await network?.heal();
  await runner.close();

  const restarted = new SagaRunner({ ...options, id: 'props-restarted' });
  const recoveryErrors: string[] = [];
  const recoveryStarted = Date.now();
  const note = (error: unknown) => {
    const e = error as Error;
    recoveryErrors.push(`${Date.now() - recoveryStarted} ms: ${e?.name}: ${e?.message}`);
  };
  restarted.on('error', note);
  let passes = 0;
  let resumed = 0;
  const left = await recoverUntilClean(world, async () => {
    passes += 1;
    const pass = await restarted.recover();
    resumed += pass.resumed;
    pass.errors.forEach(note);
  });
  recoveryErrors.unshift(`${passes} passes in ${Date.now() - recoveryStarted} ms resumed ${resumed} sagas`);
  await restarted.close();
  const readings = await reader.stop();
  const { rows } = await world
    .pool(LOG_DATABASE)
    .query<{ key: string; status: string }>(`SELECT key, status FROM ${SCHEMA}.saga`);
  return {
    plan,
    returned,
    durations,
    status: new Map(rows.map((r) => [r.key, r.status])),
    readings,
    left,
    recoveryErrors,
  };
}

/**
 * The saga checks every workload shares: no saga unfinished or failed; what `run()` answered is what the log
 * says; intermediate states are counted (visible while sagas run, by design). Returns the violations.
 */
export function sagaViolations<Part>(
  run: SagaRun<Part>,
  view: { halfDone: (reading: Reading<Part>) => Iterable<string> },
  stats: RunStats,
): string[] {
  const violations: string[] = [];
  for (const saga of run.left.sagas)
    violations.push(`saga ${saga.id} left ${saga.status} at step ${saga.step}`);
  // Why recovery did not finish them: its passes, what they resumed, and the first of their failures.
  if (run.left.sagas.length > 0) {
    const errors = run.recoveryErrors;
    violations.push(
      `recovery: ${errors.slice(0, 4).join(' | ')}${errors.length > 4 ? ` (${errors.length - 1} errors)` : ''}`,
    );
  }
  for (const [id, answer] of run.returned) {
    const end = run.status.get(id);
    if ((answer === 'completed' || answer === 'compensated') && answer !== end) {
      violations.push(`${id}: run() answered ${answer}, the log says ${end}`);
    }
    // A lost connection's error out of run() — raw (`ECONNRESET`) or `ResponseTimeoutError` — is outside the
    // contract: the log unreachable is a SagaLogUnavailableError (found by these properties, see SOAK.md).
    if (answer.startsWith('error') || answer.startsWith('raw connection error'))
      violations.push(`${id}: run() failed: ${answer}`);
  }
  stats.add('runs');
  stats.add('readings', run.readings.length);
  stats.add('mixed readings', run.readings.filter((r) => [...view.halfDone(r)].length > 0).length);
  stats.addFaults(run.plan.fired);
  for (const end of run.status.values()) stats.add(`saga ${end}`);
  for (const answer of run.returned.values())
    stats.add(answer.startsWith('raw connection error') ? 'run() raw connection error' : `run() ${answer}`);
  return violations;
}
