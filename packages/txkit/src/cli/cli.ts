import { parseArgs } from 'node:util';
import { ConfigurationError } from '../errors.js';
import { TwoPhaseCoordinator } from '../two-phase/coordinator.js';
import { CliPools, type CliSettings, resolveSettings } from './cli-config.js';
import { ExitCode } from './exit-codes.js';
import { migrateAll, parseComponents } from './migrate-command.js';
import { type CliIo, describeError, processIo } from './output.js';
import { printMigrations, printRecovery, printResolve, printStatus } from './print.js';
import { Refusal } from './refusal.js';
import { resolveTransaction } from './resolve-command.js';
import { collectStatus } from './status-command.js';

export const USAGE = `Usage: txkit <command> [options]

Commands:
  migrate                      create or update txkit's tables (decision log, saga log; --components for more)
  status                       prepared transactions (in flight, in doubt, decided) and unfinished/failed sagas
  recover                      one 2PC recovery pass: finish decided branches, abort undecided ones past the timeout
  resolve <gid> --commit|--abort [--force]
                               operator decision for one transaction: recorded in the log first, then applied

Connection (flags win over the environment):
  --participant <name>=<url>   a participant database, repeatable        TXKIT_PARTICIPANTS="a=postgres://..,b=.."
  --log <name|url>             database of the decision log              TXKIT_LOG
  --saga-log <name|url>        database of the saga log (default: --log) TXKIT_SAGA_LOG
  --schema <name>              schema of txkit's tables (default txkit)  TXKIT_SCHEMA
  --coordinator-id <id>        only this coordinator's gids (default all) TXKIT_COORDINATOR_ID
  --prepare-timeout-ms <ms>    the coordinators' prepare timeout (10000) TXKIT_PREPARE_TIMEOUT_MS

Options:
  --json                       machine-readable output on stdout
  --components <list>          migrate: any of two-phase,saga,outbox,barrier,saga-participant (default two-phase,saga)
  --limit <n>                  status: at most n sagas (default 100)
  -h, --help                   this text

Exit codes: 0 ok, 1 failed or refused, 2 usage error, 3 ran but found something needing attention.
Sagas are recovered by your application's SagaRunner (it holds the step code); the CLI only lists them.`;

const COMMANDS = ['migrate', 'status', 'recover', 'resolve'];

const options = {
  participant: { type: 'string', multiple: true },
  log: { type: 'string' },
  'saga-log': { type: 'string' },
  schema: { type: 'string' },
  'coordinator-id': { type: 'string' },
  'prepare-timeout-ms': { type: 'string' },
  json: { type: 'boolean', default: false },
  components: { type: 'string' },
  limit: { type: 'string' },
  commit: { type: 'boolean', default: false },
  abort: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

/**
 * The `txkit` command line: runs one command and resolves with its exit code (it never calls `process.exit`,
 * so tests can run it in-process). Output goes to `io`.
 *
 * @example
 * const code = await main(['status', '--json'], { out: console.log, err: console.error, env: process.env });
 */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<ExitCode> {
  let flags: Flags;
  let positionals: string[];
  try {
    ({ values: flags, positionals } = parseArgs({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    }));
  } catch (error) {
    io.err(`txkit: ${describeError(error)}\n\n${USAGE}`);
    return ExitCode.usage;
  }
  const [command, ...rest] = positionals;
  if (flags.help || command === 'help') {
    io.out(USAGE);
    return ExitCode.ok;
  }
  if (command === undefined) {
    io.err(`txkit: no command given\n\n${USAGE}`);
    return ExitCode.usage;
  }

  if (!COMMANDS.includes(command)) {
    io.err(`txkit: unknown command "${command}"\n\n${USAGE}`);
    return ExitCode.usage;
  }

  const pools = new CliPools();
  try {
    const settings = resolveSettings(flags, io.env);
    return await run(command, rest, flags, settings, pools, io);
  } catch (error) {
    if (error instanceof ConfigurationError) {
      io.err(`txkit: ${error.message}`);
      return ExitCode.usage;
    }
    io.err(`txkit ${command}: ${describeError(error)}`);
    return ExitCode.failed;
  } finally {
    await pools.close();
  }
}

async function run(
  command: string,
  args: string[],
  flags: Flags,
  settings: CliSettings,
  pools: CliPools,
  io: CliIo,
): Promise<ExitCode> {
  const participants = pools.participants(settings);
  const log = pools.get(settings.log);
  const emit = (report: unknown, print: () => string) =>
    io.out(flags.json ? JSON.stringify(report, null, 2) : print());
  const noArgs = () => {
    if (args.length > 0)
      throw new ConfigurationError(`${command} takes no arguments (got ${args.join(' ')})`);
  };

  switch (command) {
    case 'migrate': {
      noArgs();
      const components = parseComponents(flags.components);
      const results = await migrateAll(settings, participants, log, pools.get(settings.sagaLog), components);
      emit({ migrations: results }, () => printMigrations(results));
      return ExitCode.ok;
    }
    case 'status': {
      noArgs();
      const limit = Number(flags.limit ?? '100');
      if (!Number.isInteger(limit) || limit <= 0)
        throw new ConfigurationError('--limit must be a positive integer');
      const report = await collectStatus(settings, participants, log, pools.get(settings.sagaLog), limit);
      emit(report, () => printStatus(report, settings));
      return report.attention ? ExitCode.attention : ExitCode.ok;
    }
    case 'recover': {
      noArgs();
      const coordinator = new TwoPhaseCoordinator({
        id: settings.coordinatorId ?? 'txkit-cli',
        participants: Object.fromEntries(participants),
        log,
        schema: settings.schema,
        prepareTimeoutMs: settings.prepareTimeoutMs,
      });
      const report = await coordinator.recover({ allCoordinators: settings.coordinatorId === undefined });
      const json = {
        ...report,
        failed: report.failed.map((f) => ({ ...f, error: describeError(f.error) })),
        unreachable: report.unreachable.map((u) => ({ ...u, error: describeError(u.error) })),
      };
      emit(json, () => printRecovery(json));
      return report.failed.length > 0 || report.unreachable.length > 0 ? ExitCode.attention : ExitCode.ok;
    }
    case 'resolve': {
      if (args.length !== 1) throw new ConfigurationError('resolve takes exactly one gid');
      if (flags.commit === flags.abort)
        throw new ConfigurationError('resolve needs exactly one of --commit or --abort');
      try {
        const report = await resolveTransaction(settings, participants, log, {
          gid: args[0]!,
          outcome: flags.commit ? 'commit' : 'abort',
          force: flags.force,
        });
        emit(report, () => printResolve(report));
        return report.branches.some((b) => b.result === 'failed') ? ExitCode.failed : ExitCode.ok;
      } catch (error) {
        if (!(error instanceof Refusal)) throw error;
        if (flags.json) io.out(JSON.stringify({ refused: error.message }, null, 2));
        io.err(`txkit resolve: refused: ${error.message}`);
        return ExitCode.failed;
      }
    }
    default:
      throw new ConfigurationError(`unknown command "${command}" (try txkit --help)`);
  }
}
