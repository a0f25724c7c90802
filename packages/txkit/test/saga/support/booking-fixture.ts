import type pg from 'pg';
import { expect } from 'vitest';
import { SagaRunner, type SagaRunnerOptions } from '../../../src/index.js';
import { createTestDatabases, type TestDatabases, testCluster } from '../../../src/testing/index.js';
import {
  type BookingDefinition,
  type BookingInput,
  bookingSaga,
  instanceOf,
  type StepName,
  stepNames,
} from './booking-saga.js';

/** Three participant databases with a barrier table and a ledger of applied effects, and a log on 'a'. */
export interface BookingWorld {
  dbs: TestDatabases;
  pool(step: StepName): pg.Pool;
  logPool: pg.Pool;
  /** Compensations that throw while true (per step), to test compensation exhaustion and operator retry. */
  brokenCompensations: Set<string>;
  /** Whether participants use the barrier (false shows what the barrier prevents). */
  useBarrier: boolean;
  definition: BookingDefinition;
  runner(options?: Partial<SagaRunnerOptions>): SagaRunner;
  ledger(sagaId: string): Promise<Record<StepName, { action: number; compensate: number }>>;
  drop(): Promise<void>;
}

let schemaCounter = 0;

/** A fresh log schema name, so that tests of one file never recover each other's sagas. */
/**
 * A lease for tests that count a runner's log statements: long enough that no renewal (a log statement of its
 * own, due by the clock, and late or early under load) falls into the count.
 */
export const COUNTING_LEASE_MS = 10 * 60_000;

export function freshSchema(): string {
  return `saga_t${process.pid}_${++schemaCounter}`;
}

/** Builds the world: databases, migrations, the booking saga with three barrier-guarded participants. */
export async function createBookingWorld(label: string): Promise<BookingWorld> {
  const dbs = await createTestDatabases(testCluster(), label);
  const runners: SagaRunner[] = [];
  for (const db of dbs.databases) {
    await db.pool.query('CREATE TABLE ledger (saga_id text NOT NULL, step text NOT NULL, op text NOT NULL)');
  }
  const world: BookingWorld = {
    dbs,
    pool: (step) => dbs.on(instanceOf[step]).pool,
    logPool: dbs.on('a').pool,
    brokenCompensations: new Set(),
    useBarrier: true,
    definition: undefined as never,
    runner(options = {}) {
      const runner = new SagaRunner({
        pool: world.logPool,
        id: 'test',
        sagas: [world.definition],
        leaseMs: 2_000,
        ...options,
      });
      runner.on('error', () => {});
      runners.push(runner);
      return runner;
    },
    async ledger(sagaId) {
      const result = {} as Record<StepName, { action: number; compensate: number }>;
      for (const step of stepNames) {
        const { rows } = await world
          .pool(step)
          .query<{ op: string; n: number }>(
            'SELECT op, count(*)::int AS n FROM ledger WHERE saga_id = $1 GROUP BY op',
            [sagaId],
          );
        result[step] = {
          action: rows.find((r) => r.op === 'action')?.n ?? 0,
          compensate: rows.find((r) => r.op === 'compensate')?.n ?? 0,
        };
      }
      return result;
    },
    async drop() {
      await Promise.allSettled(runners.map((r) => r.close()));
      await dbs.drop();
    },
  };
  const { migrateBarrier } = await import('../../../src/index.js');
  for (const db of dbs.databases) await migrateBarrier(db.pool);

  world.definition = bookingSaga(world);
  return world;
}

/**
 * Waits until no unfinished saga of the log is held by a lease that is still running, by the database's clock
 * (the one recovery's claim goes by): from then on recovery may claim every saga a dead runner left behind.
 */
export async function untilLeasesLapsed(world: BookingWorld, schema: string): Promise<void> {
  const live = async () =>
    (
      await world.logPool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${schema}.saga
          WHERE status IN ('running', 'compensating') AND lease_until >= now()`,
      )
    ).rows[0]!.n;
  await expect.poll(live, { timeout: 10_000, message: 'a saga lease was still running' }).toBe(0);
}

/**
 * Checks that all `count` sagas in the log ended, each as its input wanted — completed, or compensated when it
 * was to be rejected — with every effect applied exactly once (the ledger of the barrier-guarded participants).
 */
export async function expectEverySagaSettledOnce(
  world: BookingWorld,
  schema: string,
  count: number,
): Promise<void> {
  const { rows } = await world.logPool.query<{ id: string; status: string; input: { rejectAt?: string } }>(
    `SELECT id, status, input FROM ${schema}.saga`,
  );
  expect(rows).toHaveLength(count);
  for (const row of rows) {
    const ledger = await world.ledger(row.id);
    if (row.input.rejectAt) {
      expect(row.status).toBe('compensated');
      expect(ledger).toEqual({
        seat: { action: 1, compensate: 1 },
        pay: { action: 1, compensate: 1 },
        ticket: { action: 0, compensate: 0 },
      });
    } else {
      expect(row.status).toBe('completed');
      expect(ledger).toEqual({
        seat: { action: 1, compensate: 0 },
        pay: { action: 1, compensate: 0 },
        ticket: { action: 1, compensate: 0 },
      });
    }
  }
}

export type { BookingInput, StepName };
