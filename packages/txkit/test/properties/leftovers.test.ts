import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSimulatedCrash } from '../../src/faults.js';
import { SagaRunner, saga } from '../../src/index.js';
import {
  createTestDatabases,
  FaultPlan,
  listLeftovers,
  listUnfinishedSagas,
  type TestDatabases,
  testCluster,
} from '../../src/testing/index.js';

// The leftover listing the properties rely on must see what a crash leaves: a prepared transaction and an
// unfinished saga.

let dbs: TestDatabases;

beforeAll(async () => {
  dbs = await createTestDatabases(testCluster(), 'property leftovers');
});
afterAll(() => dbs?.drop());

describe('listLeftovers', () => {
  it('lists a prepared transaction of the given databases only, and an unfinished saga', async () => {
    const pool = dbs.on('b').pool;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('CREATE TABLE t (id int)');
      await client.query(`PREPARE TRANSACTION 'leftover-${dbs.on('b').database}'`);
    } finally {
      client.release();
    }

    const definition = saga<{ n: number }>('leftover')
      .step('only', { run: async () => 1 })
      .build();
    const plan = new FaultPlan([{ point: 'saga:before-step', kind: 'crash' }]);
    const runner = new SagaRunner({
      pool: dbs.on('a').pool,
      id: 'dying',
      sagas: [definition],
      faults: plan.hook,
    });
    runner.on('error', () => {});
    await runner.migrate();
    const error = await runner.run(definition, { n: 1 }).catch((e: unknown) => e);
    expect(isSimulatedCrash(error)).toBe(true);

    const left = await listLeftovers({
      databases: [dbs.on('a').pool, pool],
      sagaLogs: [{ pool: dbs.on('a').pool }],
    });
    expect(left.prepared.map((p) => p.gid)).toEqual([`leftover-${dbs.on('b').database}`]);
    expect(left.sagas).toEqual([
      expect.objectContaining({ name: 'leftover', status: 'running', owner: 'dying' }),
    ]);
    expect(await listLeftovers({ databases: [dbs.on('c').pool] })).toEqual({ prepared: [], sagas: [] });
    expect(await listUnfinishedSagas(dbs.on('a').pool)).toHaveLength(1);
  });
});
