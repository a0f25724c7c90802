import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { PostgresCluster } from './postgres-cluster.js';
import { connectionString } from './postgres-instance.js';
import { rollbackPreparedTransactions } from './prepared-transactions.js';

/**
 * One fresh database on one instance of the cluster.
 *
 * @example
 * const seats: TestDatabase = dbs.on('a');
 * await seats.pool.query('CREATE TABLE seats (id int PRIMARY KEY, booked boolean NOT NULL DEFAULT false)');
 * spawn(process.execPath, ['worker.js'], { env: { ...process.env, SEATS_URL: seats.connectionString } });
 */
export interface TestDatabase {
  /** The instance's name. */
  instance: string;
  /** The database's name (unique per call). */
  database: string;
  /** `postgres://` URL of the database, for clients of your own (another process, the CLI). */
  connectionString: string;
  /** A pool on this database, closed by `drop()`. */
  pool: pg.Pool;
}

/**
 * A fresh database on every instance, for one test file.
 *
 * @example
 * let dbs: TestDatabases;
 * beforeAll(async () => (dbs = await createTestDatabases(testCluster(), 'booking saga')));
 * afterAll(() => dbs.drop());
 */
export interface TestDatabases {
  /** One per instance, in the cluster's order. */
  readonly databases: readonly TestDatabase[];
  /** The database on the named instance. */
  on(instance: string): TestDatabase;
  /** Closes the pools, rolls back the databases' prepared transactions and drops the databases. */
  drop(): Promise<void>;
}

function slug(label: string): string {
  return label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(-30);
}

/**
 * Creates a database named after the test on every instance of the cluster, so test files never see each
 * other's tables, prepared transactions or logs.
 *
 * @example
 * const dbs = await createTestDatabases(testCluster(), 'two-phase commit');
 * await dbs.on('a').pool.query('CREATE TABLE t (id int)');
 * await dbs.drop();
 */
export async function createTestDatabases(
  cluster: PostgresCluster,
  label: string,
  poolOptions: pg.PoolConfig = {},
): Promise<TestDatabases> {
  const database = `t_${slug(label)}_${randomBytes(3).toString('hex')}`;
  const databases: TestDatabase[] = [];
  for (const instance of cluster.instances) {
    const admin = new pg.Client({ connectionString: instance.connectionString });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`);
    } finally {
      await admin.end();
    }
    const url = connectionString(instance.info, database);
    const pool = new pg.Pool({ connectionString: url, max: 20, ...poolOptions });
    // A server restart in a test kills idle pooled connections; that is expected, not a crash of the run.
    pool.on('error', () => {});
    databases.push({ instance: instance.info.name, database, connectionString: url, pool });
  }
  return {
    databases,
    on(name) {
      const found = databases.find((d) => d.instance === name);
      if (!found) throw new Error(`no test database on instance '${name}'`);
      return found;
    },
    async drop() {
      for (const db of databases) {
        await rollbackPreparedTransactions(db.pool).catch(() => {});
        await db.pool.end();
        const instance = cluster.instance(db.instance);
        const admin = new pg.Client({ connectionString: instance.connectionString });
        await admin.connect();
        try {
          await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(db.database)} WITH (FORCE)`);
        } finally {
          await admin.end();
        }
      }
    },
  };
}
