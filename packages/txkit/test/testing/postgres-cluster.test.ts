import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabases,
  listPreparedTransactions,
  startPostgresCluster,
  type TestDatabases,
  testCluster,
} from '../../src/testing/index.js';

describe('test harness: three PostgreSQL instances', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, 'harness');
  });
  afterAll(() => dbs.drop());

  it('runs three separate servers with prepared transactions enabled', async () => {
    expect(cluster.instances).toHaveLength(3);
    const ports = new Set(cluster.instances.map((i) => i.info.port));
    expect(ports.size).toBe(3);
    for (const db of dbs.databases) {
      const { rows } = await db.pool.query<{ max: string; port: string; dir: string }>(
        "SELECT current_setting('max_prepared_transactions') AS max, current_setting('port') AS port, current_setting('data_directory') AS dir",
      );
      expect(Number(rows[0]!.max)).toBeGreaterThan(0);
      expect(Number(rows[0]!.port)).toBe(cluster.instance(db.instance).info.port);
    }
    const dirs = await Promise.all(
      dbs.databases.map(async (db) => (await db.pool.query('SHOW data_directory')).rows[0].data_directory),
    );
    expect(new Set(dirs).size).toBe(3);
  });

  it('keeps a prepared transaction through a crash and restart of its server, then commits it', async () => {
    // A private server: restarting one of the shared ones would cut the connections of test files running
    // alongside this one.
    const own = await startPostgresCluster({ names: ['solo'] });
    const connectionString = own.instance('solo').connectionString;
    try {
      const client = new pg.Client({ connectionString });
      await client.connect();
      client.on('error', () => {});
      await client.query('CREATE TABLE notes (id int PRIMARY KEY, body text)');
      await client.query('BEGIN');
      await client.query("INSERT INTO notes VALUES (1, 'survives')");
      await client.query("PREPARE TRANSACTION 'harness-restart-1'");

      // An immediate stop is a crash from PostgreSQL's point of view: no shutdown checkpoint.
      await own.instance('solo').restart({ mode: 'immediate' });
      await client.end().catch(() => {});

      const fresh = new pg.Pool({ connectionString });
      try {
        expect((await listPreparedTransactions(fresh)).map((t) => t.gid)).toContain('harness-restart-1');
        expect((await fresh.query('SELECT count(*)::int AS n FROM notes')).rows[0].n).toBe(0);
        await fresh.query("COMMIT PREPARED 'harness-restart-1'");
        expect((await fresh.query('SELECT body FROM notes WHERE id = 1')).rows[0].body).toBe('survives');
        expect(await listPreparedTransactions(fresh)).toEqual([]);
      } finally {
        await fresh.end();
      }
    } finally {
      await own.destroy();
    }
  });

  it('isolates test files in their own databases', async () => {
    const other = await createTestDatabases(cluster, 'harness-other');
    try {
      expect(other.on('a').database).not.toBe(dbs.on('a').database);
    } finally {
      await other.drop();
    }
  });
});
