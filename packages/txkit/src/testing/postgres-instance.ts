import { execFile } from 'node:child_process';
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { postgresBinaries, postgresRunAs } from './postgres-binaries.js';

const run = promisify(execFile);

/**
 * Where a test PostgreSQL server lives. Serialisable, so it can be handed to other processes.
 *
 * @example
 * const info: PostgresInstanceInfo = { name: 'a', host: '127.0.0.1', port: 54001, user: 'postgres', dataDir };
 * const instance = new PostgresInstance(info);
 */
export interface PostgresInstanceInfo {
  /** The instance's name in its cluster (`cluster.instance(name)`). */
  name: string;
  host: string;
  port: number;
  /** The user to connect as, without a password (the harness's own servers trust local connections). */
  user: string;
  /** Present when the harness owns the server and can stop and start it. */
  dataDir?: string;
}

/**
 * `postgres://` URL of one database on an instance (default `postgres`).
 *
 * @example
 * const pool = new pg.Pool({ connectionString: connectionString(cluster.instance('a').info, 'shop') });
 */
export function connectionString(info: PostgresInstanceInfo, database = 'postgres'): string {
  return `postgres://${encodeURIComponent(info.user)}@${info.host}:${info.port}/${encodeURIComponent(database)}`;
}

/**
 * Server settings every harness instance gets, unless overridden. 2PC needs `max_prepared_transactions` > 0;
 * `fsync` and `full_page_writes` are off, as they only slow tests down.
 *
 * @example
 * await instance.initialise({ ...defaultTestSettings, max_prepared_transactions: '10' });
 */
export const defaultTestSettings: Readonly<Record<string, string>> = {
  max_prepared_transactions: '200',
  max_connections: '300',
  // A killed test process leaves no WAL unflushed by the OS, so fsync buys nothing in tests; synchronous
  // commit stays on because an *immediate* server stop (our crash) does lose unflushed WAL buffers.
  fsync: 'off',
  full_page_writes: 'off',
  shared_buffers: '32MB',
  listen_addresses: '127.0.0.1',
};

/**
 * A PostgreSQL server owned by the test harness, controlled through `pg_ctl` by its data folder, so that any
 * process can stop it (cleanly or as a crash) and start it again in the middle of a test.
 *
 * @example
 * const db = new PostgresInstance({ name: 'a', host: '127.0.0.1', port: 54001, user: 'postgres', dataDir });
 * await db.initialise({ max_prepared_transactions: '50' });
 * await db.start();
 * await db.stop({ mode: 'immediate' }); // like a power cut: prepared transactions must survive it
 * await db.start();
 */
export class PostgresInstance {
  /** Where the server lives. */
  readonly info: PostgresInstanceInfo;

  constructor(info: PostgresInstanceInfo) {
    this.info = info;
  }

  /** URL of the instance's `postgres` database: for admin work such as CREATE DATABASE. */
  get connectionString(): string {
    return connectionString(this.info);
  }

  /** Runs initdb into an empty data folder and writes the given settings into postgresql.auto.conf. */
  async initialise(settings: Readonly<Record<string, string>> = defaultTestSettings): Promise<void> {
    const dataDir = this.#dataDir();
    const { initdb } = await postgresBinaries();
    const runAs = await postgresRunAs();
    await mkdir(dataDir, { recursive: true });
    if (runAs) await chown(dataDir, runAs.uid, runAs.gid);
    await run(
      initdb,
      ['-D', dataDir, '-U', this.info.user, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'],
      { ...runAs },
    );
    // The socket goes into the data folder, so instances never collide with each other or the system server.
    const conf = Object.entries({
      ...settings,
      port: String(this.info.port),
      unix_socket_directories: dataDir,
    })
      .map(([key, value]) => `${key} = '${value.replaceAll("'", "''")}'`)
      .join('\n');
    const confPath = join(dataDir, 'postgresql.auto.conf');
    await writeFile(confPath, `${conf}\n`);
    if (runAs) await chown(confPath, runAs.uid, runAs.gid);
  }

  /** Starts the server and waits until it accepts connections. */
  async start(): Promise<void> {
    await this.#pgCtl(['start', '-w', '-t', '60', '-l', join(this.#dataDir(), 'server.log')]);
  }

  /**
   * Stops the server. `fast` is a clean shutdown; `immediate` is a crash as far as the database is concerned
   * (no checkpoint, crash recovery at the next start).
   */
  async stop(options: { mode?: 'fast' | 'immediate' } = {}): Promise<void> {
    await this.#pgCtl(['stop', '-w', '-t', '60', '-m', options.mode ?? 'fast']);
  }

  /** Stops and starts the server again. */
  async restart(options: { mode?: 'fast' | 'immediate' } = {}): Promise<void> {
    await this.stop(options);
    await this.start();
  }

  /** Whether the server process is running. */
  async isRunning(): Promise<boolean> {
    try {
      await this.#pgCtl(['status']);
      return true;
    } catch {
      return false;
    }
  }

  /** Stops the server if it runs and deletes its data folder. */
  async destroy(): Promise<void> {
    if (await this.isRunning()) await this.stop({ mode: 'immediate' });
    await rm(this.#dataDir(), { recursive: true, force: true });
  }

  #dataDir(): string {
    if (!this.info.dataDir) {
      throw new Error(
        `PostgreSQL instance '${this.info.name}' is an external server: the harness cannot control it`,
      );
    }
    return this.info.dataDir;
  }

  async #pgCtl(args: string[]): Promise<void> {
    const { pgCtl } = await postgresBinaries();
    const runAs = await postgresRunAs();
    try {
      await run(pgCtl, ['-D', this.#dataDir(), ...args], { ...runAs });
    } catch (cause) {
      const detail = (cause as { stderr?: string }).stderr?.trim();
      throw new Error(
        `pg_ctl ${args[0]} failed for instance '${this.info.name}'${detail ? `: ${detail}` : ''}`,
        {
          cause,
        },
      );
    }
  }
}
