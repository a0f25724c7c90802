import pg from 'pg';
import { startPostgresCluster } from 'txkit/testing';

/** Two bank databases, and how to shut everything down. */
export interface Banks {
  north: pg.Pool;
  south: pg.Pool;
  close(): Promise<void>;
}

/**
 * The two banks' databases. With `POSTGRES_URL` (a server with `max_prepared_transactions` > 0) they are
 * created there; without it a throwaway PostgreSQL server is started in a temporary folder (txkit/testing).
 * Both databases sit on one server here to keep the example quick; in production they would usually be two
 * servers, and nothing in the code changes (gids are unique per participant, as PostgreSQL requires).
 */
export async function startBanks(url = process.env.POSTGRES_URL): Promise<Banks> {
  const cluster = url ? undefined : await startPostgresCluster({ names: ['banks'] });
  const serverUrl = url ?? cluster!.instance('banks').connectionString;
  const admin = new pg.Pool({ connectionString: serverUrl, max: 1 });
  const suffix = Math.random().toString(36).slice(2, 8);
  const names = { north: `bank_north_${suffix}`, south: `bank_south_${suffix}` };
  for (const name of Object.values(names)) await admin.query(`CREATE DATABASE ${name}`);
  const poolOn = (database: string) => {
    const u = new URL(serverUrl);
    u.pathname = `/${database}`;
    const pool = new pg.Pool({ connectionString: u.toString(), max: 5 });
    // close() drops the databases WITH (FORCE), which ends connections still closing; pg reports that as an
    // 'error' event on the client, and an unhandled 'error' event would crash the process.
    pool.on('connect', (client) => client.on('error', () => {}));
    pool.on('error', () => {});
    return pool;
  };
  const north = poolOn(names.north);
  const south = poolOn(names.south);
  return {
    north,
    south,
    async close() {
      await Promise.all([north.end(), south.end()]);
      for (const name of Object.values(names))
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      await cluster?.destroy();
    },
  };
}
