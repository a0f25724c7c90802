import pg from 'pg';
import { startPostgresCluster } from 'txkit/testing';

/** Fresh databases by name, and how to shut everything down. */
export interface Databases<Name extends string> {
  pools: Record<Name, pg.Pool>;
  close(): Promise<void>;
}

/**
 * Creates one fresh database per name. With `POSTGRES_URL` they are created on that server; without it a
 * throwaway PostgreSQL server is started in a temporary folder (txkit/testing's `startPostgresCluster`) and
 * deleted by `close()`. One server keeps the example quick; in production each service has its own.
 */
export async function startDatabases<Name extends string>(
  names: readonly Name[],
  url = process.env.POSTGRES_URL,
): Promise<Databases<Name>> {
  const cluster = url ? undefined : await startPostgresCluster({ names: ['example'] });
  const serverUrl = url ?? cluster!.instance('example').connectionString;
  const admin = new pg.Pool({ connectionString: serverUrl, max: 1 });
  const suffix = Math.random().toString(36).slice(2, 8);
  const databases = names.map((name) => `${name}_${suffix}`);
  for (const database of databases) await admin.query(`CREATE DATABASE ${database}`);
  const pools = Object.fromEntries(
    names.map((name, i) => {
      const u = new URL(serverUrl);
      u.pathname = `/${databases[i]}`;
      const pool = new pg.Pool({ connectionString: u.toString(), max: 5 });
      // close() drops the databases WITH (FORCE), which ends connections still closing; pg reports that as an
      // 'error' event on the client, and an unhandled 'error' event would crash the process.
      pool.on('connect', (client) => client.on('error', () => {}));
      pool.on('error', () => {});
      return [name, pool];
    }),
  ) as Record<Name, pg.Pool>;
  return {
    pools,
    async close() {
      await Promise.all(Object.values<pg.Pool>(pools).map((pool) => pool.end()));
      for (const database of databases) await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
      await cluster?.destroy();
    },
  };
}
