import pg from 'pg';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/schema-name.js';
import { ConfigurationError } from '../errors.js';
import { assertValidName } from '../two-phase/gid.js';

/** The connection settings every command shares, from flags or, when a flag is absent, the environment. */
export interface CliSettings {
  /** Participant databases by name (the names the coordinator was built with). */
  participants: Map<string, string>;
  /** Connection string of the database holding the decision log. */
  log: string;
  /** Connection string of the database holding the saga log (defaults to the decision log's). */
  sagaLog: string;
  schema: string;
  /** Only this coordinator's gids; undefined means every txkit coordinator's. */
  coordinatorId: string | undefined;
  /** Age after which an undecided prepared branch counts as in doubt (and recovery may abort it). */
  prepareTimeoutMs: number;
}

/** The raw flag values shared by all commands (see `cli.ts` for their definitions). */
export interface SettingFlags {
  participant?: string[];
  log?: string;
  'saga-log'?: string;
  schema?: string;
  'coordinator-id'?: string;
  'prepare-timeout-ms'?: string;
}

/**
 * Resolves flags and environment into settings. `--log` and `--saga-log` take either a participant's name
 * (the log lives in that participant's database, as in `log: seats`) or a connection string.
 */
export function resolveSettings(flags: SettingFlags, env: NodeJS.ProcessEnv): CliSettings {
  const participantSpecs = flags.participant?.length
    ? flags.participant
    : (env.TXKIT_PARTICIPANTS ?? '').split(/[\s,]+/).filter((s) => s !== '');
  if (participantSpecs.length === 0) {
    throw new ConfigurationError(
      'no participants: pass --participant <name>=<postgres-url> (repeatable) or set TXKIT_PARTICIPANTS=' +
        '"seats=postgres://...,payments=postgres://..."',
    );
  }
  const participants = new Map<string, string>();
  for (const spec of participantSpecs) {
    const at = spec.indexOf('=');
    if (at <= 0 || at === spec.length - 1) {
      throw new ConfigurationError(
        `malformed participant ${JSON.stringify(spec)}: expected <name>=<postgres-url>`,
      );
    }
    const name = spec.slice(0, at);
    assertValidName('participant name', name);
    if (participants.has(name)) throw new ConfigurationError(`participant "${name}" is given twice`);
    participants.set(name, spec.slice(at + 1));
  }
  const logSpec = flags.log ?? env.TXKIT_LOG;
  if (!logSpec) {
    throw new ConfigurationError(
      'no decision log: pass --log <participant-name|postgres-url> or set TXKIT_LOG',
    );
  }
  const log = databaseOf(logSpec, participants, '--log');
  const sagaLogSpec = flags['saga-log'] ?? env.TXKIT_SAGA_LOG;
  const schema = flags.schema ?? env.TXKIT_SCHEMA ?? DEFAULT_SCHEMA;
  quoteSchema(schema);
  const coordinatorId = flags['coordinator-id'] ?? env.TXKIT_COORDINATOR_ID;
  if (coordinatorId !== undefined) assertValidName('coordinator id', coordinatorId);
  const timeoutText = flags['prepare-timeout-ms'] ?? env.TXKIT_PREPARE_TIMEOUT_MS ?? '10000';
  const prepareTimeoutMs = Number(timeoutText);
  if (!Number.isInteger(prepareTimeoutMs) || prepareTimeoutMs <= 0) {
    throw new ConfigurationError(`--prepare-timeout-ms must be a positive integer (got ${timeoutText})`);
  }
  return {
    participants,
    log,
    sagaLog: sagaLogSpec ? databaseOf(sagaLogSpec, participants, '--saga-log') : log,
    schema,
    coordinatorId,
    prepareTimeoutMs,
  };
}

function databaseOf(spec: string, participants: Map<string, string>, flag: string): string {
  const named = participants.get(spec);
  if (named) return named;
  if (/^postgres(ql)?:\/\//.test(spec)) return spec;
  throw new ConfigurationError(
    `${flag} ${JSON.stringify(spec)} is neither a participant name (${[...participants.keys()].join(', ')}) ` +
      'nor a postgres:// connection string',
  );
}

/**
 * One small pool per distinct connection string, so a log that is also a participant shares its pool (the
 * coordinator then knows the decision lives in that participant's database), closed together at the end.
 */
export class CliPools {
  readonly #pools = new Map<string, pg.Pool>();

  /** The pool of one connection string, created on first use. */
  get(connectionString: string): pg.Pool {
    let pool = this.#pools.get(connectionString);
    if (!pool) {
      // An operator tool: few connections, and a short connect timeout so an unreachable server is reported
      // quickly instead of hanging the terminal.
      pool = new pg.Pool({ connectionString, max: 2, connectionTimeoutMillis: 5_000 });
      pool.on('error', () => {}); // idle-client errors surface on the next query instead
      this.#pools.set(connectionString, pool);
    }
    return pool;
  }

  /** The participants' pools by name. */
  participants(settings: CliSettings): Map<string, pg.Pool> {
    return new Map([...settings.participants].map(([name, url]) => [name, this.get(url)]));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((pool) => pool.end().catch(() => {})));
  }
}
