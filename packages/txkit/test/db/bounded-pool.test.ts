import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundedPool } from '../../src/db/bounded-pool.js';
import { withClient } from '../../src/db/queryable.js';
import { ResponseTimeoutError } from '../../src/errors.js';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';

describe('boundedPool: how txkit uses a pg.Pool', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;
  let raw: pg.Pool;

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, 'bounded pool');
    raw = new pg.Pool({ connectionString: dbs.on('a').connectionString, max: 2 });
  });
  afterAll(async () => {
    await raw.end();
    await dbs.drop();
  });

  it('is the same wrapper for the same pool and bound (pools stay comparable by identity)', () => {
    expect(boundedPool(raw, 1_000)).toBe(boundedPool(raw, 1_000));
    expect(boundedPool(raw, 1_000)).not.toBe(boundedPool(raw, 2_000));
  });

  it('survives a borrowed client whose session the server ends while txkit holds it idle', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const pool = boundedPool(raw, 5_000);
      await expect(
        withClient(pool, async (client) => {
          const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          // (Not events.once: it would listen for 'error' itself.)
          const ended = new Promise((resolve) => client.once('end', resolve));
          // Another session ends this one while it sits idle in our hands (as a restarted server would).
          await dbs.on('a').pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
          await ended;
          await client.query('SELECT 1'); // the failure shows up here, as an error, not as a crash
        }),
      ).rejects.toThrow();
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
    // The dead connection was not given back for reuse: the next query works.
    await expect(boundedPool(raw, 5_000).query('SELECT 1')).resolves.toMatchObject({ rowCount: 1 });
  });

  it('fails a round trip the server does not answer in time, and destroys that connection', async () => {
    const small = new pg.Pool({ connectionString: dbs.on('a').connectionString, max: 1 });
    small.on('error', () => {});
    try {
      const pool = boundedPool(small, 300);
      const error = await pool.query("SELECT pg_sleep(60), 'unanswered'").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ResponseTimeoutError);
      // Destroyed, not pooled: the pool's only slot is free at once, and the next query does not queue behind
      // the unanswered one (it would time out too).
      await expect.poll(() => small.totalCount, { timeout: 5_000 }).toBe(0);
      await expect(pool.query('SELECT 1')).resolves.toMatchObject({ rowCount: 1 });
    } finally {
      await dbs
        .on('a')
        .pool.query(
          "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%''unanswered''%' AND pid <> pg_backend_pid()",
        );
      await small.end();
    }
  });

  it('bounds the callback form of a borrowed client too, and calls back once', async () => {
    const small = new pg.Pool({ connectionString: dbs.on('a').connectionString, max: 1 });
    small.on('error', () => {});
    try {
      const client = await boundedPool(small, 300).connect();
      const ended = new Promise((resolve) => client.once('end', resolve));
      const answers: unknown[] = [];
      const first = new Promise((resolve) => {
        client.query("SELECT pg_sleep(60), 'unanswered-callback'", [], (error: unknown) => {
          answers.push(error);
          resolve(error);
        });
      });
      expect(await first).toBeInstanceOf(ResponseTimeoutError);
      // pg fails the abandoned query (process.nextTick) before it emits 'end' (also nextTick): by then the late
      // "Connection terminated" has come and gone without reaching the callback a second time.
      await ended;
      expect(answers).toHaveLength(1);
      client.release();
      await expect.poll(() => small.totalCount, { timeout: 5_000 }).toBe(0);
    } finally {
      await dbs
        .on('a')
        .pool.query(
          "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%''unanswered-callback''%' AND pid <> pg_backend_pid()",
        );
      await small.end();
    }
  });

  it('fails a connect that gets no connection in time, and gives a late one back', async () => {
    const small = new pg.Pool({ connectionString: dbs.on('a').connectionString, max: 1 });
    try {
      const pool = boundedPool(small, 200);
      const held = await pool.connect();
      await expect(pool.connect()).rejects.toBeInstanceOf(ResponseTimeoutError);
      held.release();
      // The connection the timed-out connect was waiting for went back to the pool: it is free again.
      await expect.poll(() => small.idleCount, { timeout: 5_000 }).toBe(1);
      await expect(pool.query('SELECT 1')).resolves.toMatchObject({ rowCount: 1 });
    } finally {
      await small.end();
    }
  });
});
