import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BarrierKey,
  type BarrierOp,
  type BarrierResult,
  barrier,
  cleanupBarrier,
  migrateBarrier,
  TxkitError,
  withBarrier,
  withTransaction,
} from '../../src/index.js';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';

let dbs: TestDatabases;
let pool: pg.Pool;
let n = 0;
const key = () => ({ sagaId: `saga-${++n}`, step: 'pay' });

type Guard = (k: BarrierKey, op: BarrierOp, fail?: boolean) => Promise<BarrierResult>;

async function write(
  client: pg.PoolClient,
  k: BarrierKey,
  op: BarrierOp,
  gate: BarrierResult,
  fail: boolean,
) {
  if (gate.apply) await client.query('INSERT INTO ledger (saga_id, op) VALUES ($1, $2)', [k.sagaId, op]);
  if (fail) throw new Error('participant failed after its write');
  return gate;
}

/** A participant write guarded by the barrier, the two ways a participant can write it: one ledger row per applied operation. */
const guards: [string, Guard][] = [
  [
    'barrier() inside withTransaction()',
    (k, op, fail = false) =>
      withTransaction(pool, async (client) => write(client, k, op, await barrier(client, k, op), fail)),
  ],
  [
    'withBarrier()',
    (k, op, fail = false) => withBarrier(pool, k, op, (client, gate) => write(client, k, op, gate, fail)),
  ],
];

async function ledger(sagaId: string) {
  const { rows } = await pool.query<{ op: string }>('SELECT op FROM ledger WHERE saga_id = $1 ORDER BY op', [
    sagaId,
  ]);
  return rows.map((r) => r.op);
}

beforeAll(async () => {
  dbs = await createTestDatabases(testCluster(), 'saga barrier');
  pool = dbs.on('a').pool;
  expect(await migrateBarrier(pool)).toEqual([1, 2]);
  expect(await migrateBarrier(pool)).toEqual([]);
  await pool.query('CREATE TABLE ledger (saga_id text, op text)');
});
afterAll(() => dbs?.drop());

describe.each(guards)('barrier: %s', (_, apply) => {
  it('lets an action take effect once; a duplicate delivery is skipped', async () => {
    const k = key();
    expect(await apply(k, 'action')).toEqual({ apply: true, why: 'first' });
    expect(await apply(k, 'action')).toEqual({ apply: false, why: 'duplicate' });
    expect(await ledger(k.sagaId)).toEqual(['action']);
  });

  it('lets a compensation take effect once, after its action', async () => {
    const k = key();
    await apply(k, 'action');
    expect(await apply(k, 'compensate')).toEqual({ apply: true, why: 'first' });
    expect(await apply(k, 'compensate')).toEqual({ apply: false, why: 'duplicate' });
    expect(await ledger(k.sagaId)).toEqual(['action', 'compensate']);
  });

  it('turns a compensation that arrives before its action into a no-op and refuses the late action', async () => {
    const k = key();
    expect(await apply(k, 'compensate')).toEqual({ apply: false, why: 'null-compensation' });
    expect(await apply(k, 'action')).toEqual({ apply: false, why: 'after-compensation' });
    expect(await apply(k, 'compensate')).toEqual({ apply: false, why: 'duplicate' });
    expect(await ledger(k.sagaId)).toEqual([]);
  });

  it('rolls back with the participant transaction: a failed action can be run again', async () => {
    const k = key();
    await expect(apply(k, 'action', true)).rejects.toThrow('participant failed');
    expect(await ledger(k.sagaId)).toEqual([]);
    // The compensation of an action that rolled back is a null compensation.
    const k2 = key();
    await expect(apply(k2, 'action', true)).rejects.toThrow();
    expect(await apply(k2, 'compensate')).toEqual({ apply: false, why: 'null-compensation' });
    expect(await apply(k, 'action')).toEqual({ apply: true, why: 'first' });
    expect(await ledger(k.sagaId)).toEqual(['action']);
  });

  it('orders a concurrent action and compensation: never an action after its compensation', async () => {
    for (let i = 0; i < 30; i++) {
      const k = key();
      const [action, compensation] = await Promise.all([apply(k, 'action'), apply(k, 'compensate')]);
      const rows = await ledger(k.sagaId);
      if (compensation.why === 'null-compensation') {
        // The compensation came first: the action must have been refused.
        expect(action).toEqual({ apply: false, why: 'after-compensation' });
        expect(rows).toEqual([]);
      } else {
        expect(action.apply).toBe(true);
        expect(compensation.apply).toBe(true);
        expect(rows).toEqual(['action', 'compensate']);
      }
    }
  });
});

describe('barrier', () => {
  it('takes a configurable schema and deletes rows older than the retention', async () => {
    await migrateBarrier(pool, { schema: 'other_barrier' });
    const k = key();
    await withTransaction(pool, (client) => barrier(client, k, 'action', { schema: 'other_barrier' }));
    const { rows } = await pool.query('SELECT op FROM other_barrier.barrier WHERE saga_id = $1', [k.sagaId]);
    expect(rows).toHaveLength(1);
    await pool.query(
      `UPDATE txkit.barrier SET created_at = now() - interval '2 days' WHERE saga_id = 'saga-1'`,
    );
    const before = (await pool.query('SELECT count(*)::int AS n FROM txkit.barrier')).rows[0].n;
    expect(await cleanupBarrier(pool, { olderThanMs: 24 * 3600_000 })).toBe(1);
    const after = (await pool.query('SELECT count(*)::int AS n FROM txkit.barrier')).rows[0].n;
    expect(after).toBe(before - 1);
  });
});

describe('withBarrier', () => {
  it('sends BEGIN and the barrier insert in one round trip, and escapes whatever the key holds', async () => {
    const k = { sagaId: "it's; DROP TABLE ledger; --", step: 'pay\\' };
    const client = await pool.connect();
    const sent: string[] = [];
    const query = client.query.bind(client);
    client.query = ((text: unknown, ...rest: unknown[]) => {
      sent.push(typeof text === 'string' ? text : (text as { text: string }).text);
      return (query as (...a: unknown[]) => unknown)(text, ...rest);
    }) as typeof client.query;
    client.release();
    const gate = await withBarrier(pool, k, 'action', async (c, g) => {
      await c.query('INSERT INTO ledger (saga_id, op) VALUES ($1, $2)', [k.sagaId, 'action']);
      return g;
    });
    expect(gate).toEqual({ apply: true, why: 'first' });
    expect(sent[0]).toMatch(/^BEGIN; INSERT INTO "txkit"\.barrier/);
    expect(sent).toHaveLength(3); // BEGIN + barrier, the write, COMMIT
    expect(await ledger(k.sagaId)).toEqual(['action']);
    const { rows } = await pool.query('SELECT step FROM txkit.barrier WHERE saga_id = $1', [k.sagaId]);
    expect(rows).toEqual([{ step: k.step }]);
  });

  it('fails, and writes nothing, when the work swallowed a failed statement (COMMIT would roll back)', async () => {
    const k = key();
    const swallowing = withBarrier(pool, k, 'action', async (client) => {
      await client.query('INSERT INTO ledger (saga_id, op) VALUES ($1, $2)', [k.sagaId, 'action']);
      await client.query('SELECT 1/0').catch(() => {});
    });
    await expect(swallowing).rejects.toSatisfy((e) => e instanceof TxkitError && e.code === 'ROLLED_BACK');
    expect(await ledger(k.sagaId)).toEqual([]);
    expect((await pool.query('SELECT 1 FROM txkit.barrier WHERE saga_id = $1', [k.sagaId])).rowCount).toBe(0);
  });
});
