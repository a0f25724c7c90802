import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postgresRunAs } from './postgres-binaries.js';
import { defaultTestSettings, PostgresInstance, type PostgresInstanceInfo } from './postgres-instance.js';

/**
 * Environment variable that carries the cluster's description (see {@link describeCluster}) from the test
 * run's global setup to its workers; {@link setupTestCluster} sets it and {@link testCluster} reads it.
 *
 * @example
 * // hand a private cluster to a child process: its testCluster() then returns this one
 * const own = await startPostgresCluster({ names: ['solo'] });
 * const child = fork('worker.js', { env: { ...process.env, [TEST_CLUSTER_ENV]: describeCluster(own) } });
 */
export const TEST_CLUSTER_ENV = 'TXKIT_TEST_CLUSTER';
/**
 * Environment variable naming existing servers to test against instead of starting our own: comma-separated
 * `postgres://user@host:port` URLs (three for the standard harness). They need `max_prepared_transactions` > 0.
 *
 * @example
 * // vitest global setup: test against the CI's service containers instead of starting servers
 * const urls = ['pg1', 'pg2', 'pg3'].map((host) => `postgres://postgres@${host}:5432`);
 * process.env[TEST_PG_URLS_ENV] ??= urls.join(',');
 * export default () => setupTestCluster();
 */
export const TEST_PG_URLS_ENV = 'TXKIT_TEST_PG_URLS';

/**
 * Several PostgreSQL servers for one test run.
 *
 * @example
 * const cluster: PostgresCluster = testCluster();
 * const ports = cluster.instances.map((i) => i.info.port);
 * const seats = new pg.Pool({ connectionString: cluster.instance('a').connectionString });
 */
export interface PostgresCluster {
  /** The servers, in the order of their names. */
  readonly instances: readonly PostgresInstance[];
  /** Looks up an instance by name; throws on an unknown name. */
  instance(name: string): PostgresInstance;
  /** Stops every server the harness owns and deletes their data folders. */
  destroy(): Promise<void>;
}

/**
 * Options of {@link startPostgresCluster} and {@link setupTestCluster}.
 *
 * @example
 * const cluster = await startPostgresCluster({ names: ['solo'], settings: { log_min_duration_statement: '0' } });
 */
export interface StartPostgresClusterOptions {
  /** Instance names, one server each. Default: `['a', 'b', 'c']`. */
  names?: readonly string[];
  /** Extra settings, or overrides of {@link defaultTestSettings}, written to each server's configuration. */
  settings?: Readonly<Record<string, string>>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error()),
      );
    });
  });
}

function clusterOf(instances: PostgresInstance[], destroy: () => Promise<void>): PostgresCluster {
  return {
    instances,
    instance(name) {
      const found = instances.find((i) => i.info.name === name);
      if (!found) throw new Error(`no PostgreSQL instance named '${name}' in this cluster`);
      return found;
    },
    destroy,
  };
}

/**
 * Starts one PostgreSQL server per name, each with its own process, port and temporary data folder, with
 * prepared transactions enabled. Initialisation runs one server at a time (initdb is CPU-bound).
 *
 * @example
 * const cluster = await startPostgresCluster({ names: ['seats', 'payments', 'tickets'] });
 * const seats = new pg.Pool({ connectionString: cluster.instance('seats').connectionString });
 * // ...
 * await cluster.destroy();
 */
export async function startPostgresCluster(
  options: StartPostgresClusterOptions = {},
): Promise<PostgresCluster> {
  const names = options.names ?? ['a', 'b', 'c'];
  const root = await mkdtemp(join(tmpdir(), 'txkit-pg-'));
  // mkdtemp makes a private folder; the server user (not root) must be able to enter it.
  const runAs = await postgresRunAs();
  if (runAs) await chown(root, runAs.uid, runAs.gid);
  const instances: PostgresInstance[] = [];
  const destroy = async () => {
    await Promise.allSettled(instances.map((i) => i.destroy()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    for (const name of names) {
      const instance = new PostgresInstance({
        name,
        host: '127.0.0.1',
        port: await freePort(),
        user: 'postgres',
        dataDir: join(root, name),
      });
      instances.push(instance);
      await instance.initialise({ ...defaultTestSettings, ...options.settings });
      await instance.start();
    }
  } catch (error) {
    await destroy();
    throw error;
  }
  return clusterOf(instances, destroy);
}

/**
 * Serialises a cluster (names, hosts, ports, users, data folders) so that another process can rebuild it with
 * {@link clusterFromDescription}; this is what {@link setupTestCluster} publishes in {@link TEST_CLUSTER_ENV}.
 *
 * @example
 * const cluster = await startPostgresCluster();
 * process.env[TEST_CLUSTER_ENV] = describeCluster(cluster);
 */
export function describeCluster(cluster: PostgresCluster): string {
  return JSON.stringify(cluster.instances.map((i) => i.info));
}

/**
 * Rebuilds a cluster handle from {@link describeCluster}'s output. Its instances can still stop and restart
 * the servers, but `destroy()` of the copy does nothing: only the process that started them removes them.
 *
 * @example
 * const cluster = clusterFromDescription(process.env[TEST_CLUSTER_ENV]!);
 * await cluster.instance('b').restart({ mode: 'immediate' });
 */
export function clusterFromDescription(description: string): PostgresCluster {
  const infos = JSON.parse(description) as PostgresInstanceInfo[];
  return clusterOf(
    infos.map((info) => new PostgresInstance(info)),
    async () => {},
  );
}

/**
 * Describes existing servers given as comma-separated URLs, naming them a, b, c, ... in order. The harness does
 * not own them (no data folder): they cannot be stopped, restarted or destroyed through it.
 *
 * @example
 * const cluster = clusterFromUrls('postgres://postgres@127.0.0.1:5433,postgres://postgres@127.0.0.1:5434');
 * const dbs = await createTestDatabases(cluster, 'against my servers');
 */
export function clusterFromUrls(urls: string): PostgresCluster {
  const infos = urls
    .split(',')
    .map((raw) => raw.trim())
    .filter(Boolean)
    .map((raw, index): PostgresInstanceInfo => {
      const url = new URL(raw);
      return {
        name: String.fromCharCode(97 + index),
        host: url.hostname,
        port: Number(url.port || 5432),
        user: decodeURIComponent(url.username || 'postgres'),
      };
    });
  return clusterOf(
    infos.map((info) => new PostgresInstance(info)),
    async () => {},
  );
}

/**
 * The cluster of the current test run, as its global setup published it (see {@link setupTestCluster}). Its
 * servers are shared by the test files running in parallel: a test that stops or restarts a server should start
 * its own with {@link startPostgresCluster} instead.
 *
 * @example
 * const cluster = testCluster();
 * const dbs = await createTestDatabases(cluster, 'my feature');
 */
export function testCluster(): PostgresCluster {
  const description = process.env[TEST_CLUSTER_ENV];
  if (!description) {
    throw new Error(
      `no test cluster: add txkit's setupTestCluster() to the test runner's global setup (or set ${TEST_PG_URLS_ENV})`,
    );
  }
  return clusterFromDescription(description);
}

/**
 * Global setup for a test run: starts three servers (or uses those in `TXKIT_TEST_PG_URLS`), publishes them to
 * the test workers through the environment, and returns the teardown.
 *
 * @example
 * // vitest global setup file
 * export default () => setupTestCluster();
 */
export async function setupTestCluster(
  options: StartPostgresClusterOptions = {},
): Promise<() => Promise<void>> {
  const urls = process.env[TEST_PG_URLS_ENV];
  const cluster = urls ? clusterFromUrls(urls) : await startPostgresCluster(options);
  process.env[TEST_CLUSTER_ENV] = describeCluster(cluster);
  return () => cluster.destroy();
}
