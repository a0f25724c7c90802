import type pg from 'pg';
import { migrateBarrier, SagaRunner, TwoPhaseCoordinator } from '../../../src/index.js';
import {
  createTestDatabases,
  type Leftovers,
  listLeftovers,
  type PostgresCluster,
  rollbackPreparedTransactions,
  type TestDatabases,
  testCluster,
} from '../../../src/testing/index.js';

/** The three harness instances; a participant is named after the instance its database is on. */
export const DATABASES = ['a', 'b', 'c'] as const;
export type DatabaseName = (typeof DATABASES)[number];

/** Where the saga log and the 2PC decision log live. */
export const LOG_DATABASE: DatabaseName = 'a';
export const SCHEMA = 'txkit';

/**
 * One database on each instance, with txkit's logs and barrier migrated once; every run resets the tables
 * (truncate), which is far cheaper than new databases.
 */
export interface World {
  dbs: TestDatabases;
  pool(name: DatabaseName): pg.Pool;
  participants(): Record<DatabaseName, pg.Pool>;
  /** Rolls back prepared transactions, truncates the logs, the barrier and the given tables everywhere. */
  reset(tables: readonly string[]): Promise<void>;
  leftovers(): Promise<Leftovers>;
  drop(): Promise<void>;
}

/**
 * Creates the world; `ddl` runs on every database (the workload's tables). On the shared test cluster unless
 * given one (a property that stops servers owns its cluster: the shared one serves other test files at once).
 */
export async function createWorld(
  label: string,
  ddl: string,
  cluster: PostgresCluster = testCluster(),
): Promise<World> {
  const dbs = await createTestDatabases(cluster, label, { max: 30 });
  const pool = (name: DatabaseName) => dbs.on(name).pool;
  const participants = () => ({ a: pool('a'), b: pool('b'), c: pool('c') });
  for (const name of DATABASES) {
    await pool(name).query(ddl);
    await migrateBarrier(pool(name), { schema: SCHEMA });
  }
  await new TwoPhaseCoordinator({
    id: 'migrate',
    participants: participants(),
    log: pool(LOG_DATABASE),
  }).migrate();
  await new SagaRunner({ pool: pool(LOG_DATABASE), id: 'migrate', sagas: [] }).migrate();
  return {
    dbs,
    pool,
    participants,
    async reset(tables) {
      for (const name of DATABASES) {
        await rollbackPreparedTransactions(pool(name));
        const own = [...tables, `${SCHEMA}.barrier`];
        if (name === LOG_DATABASE)
          own.push(`${SCHEMA}.saga`, `${SCHEMA}.saga_step`, `${SCHEMA}.two_phase_decisions`);
        await pool(name).query(`TRUNCATE ${own.join(', ')}`);
      }
    },
    leftovers: () =>
      listLeftovers({
        databases: DATABASES.map(pool),
        sagaLogs: [{ pool: pool(LOG_DATABASE), schema: SCHEMA }],
      }),
    drop: () => dbs.drop(),
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Between two recovery passes while something is left: short, because a run's recovery mostly waits for the
 * dead process's lease to run out, and every poll interval of latency is added to every such run (a pass with
 * nothing it may take yet is a few cheap queries).
 */
export const RECOVERY_POLL_MS = 25;

/**
 * The "restart" after a run: recovery passes (of a fresh coordinator / runner without faults) until nothing
 * is left — no prepared transaction, no unfinished saga — or the deadline passes. Returns what is left.
 */
export async function recoverUntilClean(world: World, recover: () => Promise<unknown>, maxMs = 20_000) {
  const deadline = Date.now() + maxMs;
  for (;;) {
    await recover();
    const left = await world.leftovers();
    // A failed saga (compensation gave up) stays failed: nothing more to wait for; the invariants report it.
    const settled = left.prepared.length === 0 && left.sagas.every((s) => s.status === 'failed');
    if (settled || Date.now() > deadline) return left;
    await sleep(RECOVERY_POLL_MS);
  }
}
