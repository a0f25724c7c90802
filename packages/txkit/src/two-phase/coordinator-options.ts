import type pg from 'pg';
import { boundedPool } from '../db/bounded-pool.js';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/schema-name.js';
import { ConfigurationError } from '../errors.js';
import type { FaultHook } from '../faults.js';
import { type IsolationLevel, isIsolationLevel } from './branch-sql.js';
import { assertValidName } from './gid.js';

/**
 * Options of {@link TwoPhaseCoordinator}.
 *
 * @example
 * const options: TwoPhaseCoordinatorOptions = { id: 'api-1', participants: { seats, payments }, log: seats };
 */
export interface TwoPhaseCoordinatorOptions {
  /**
   * Part of every gid (`A-Z a-z 0-9 _ -`, 1-40 characters); unique per running coordinator process. It may be new
   * on every start (`api-<pid>`, a pod name): a dead id's prepared branches are taken over by the live ones.
   */
  id: string;
  /** The databases a transaction may write to, by name (same charset as `id`). */
  participants: Readonly<Record<string, pg.Pool>>;
  /**
   * Where decisions live. When it is the very same `pg.Pool` object as one participant, that participant's
   * branch carries the decision (see `decisionInLogParticipant`).
   */
  log: pg.Pool;
  /** Schema of the decision log table (default `txkit`). */
  schema?: string;
  /**
   * Time a transaction has from its start to its commit decision (default 10 s). Also recovery's grace period:
   * an undecided prepared branch younger than this is left alone, because its coordinator may still decide.
   */
  prepareTimeoutMs?: number;
  /** Default isolation level of every branch (default `read committed`). */
  isolationLevel?: 'read committed' | 'repeatable read' | 'serializable';
  /** `SET LOCAL lock_timeout` on every branch, in ms (default: the server's). */
  lockTimeoutMs?: number;
  /** `SET LOCAL statement_timeout` on every branch, in ms (default: the server's). */
  statementTimeoutMs?: number;
  /** How long finished decision rows are kept (default 24 h; at least 10 × `prepareTimeoutMs`). */
  decisionRetentionMs?: number;
  /** Attempts at COMMIT PREPARED per branch before leaving it to recovery (default 3). */
  commitAttempts?: number;
  /**
   * How long this coordinator counts as alive after its last lease renewal (default 30 s). Its recovery service
   * renews the lease three times per period; once it has expired (the process died), the recovery of any other
   * coordinator sharing the log takes over its prepared branches. Lower means faster takeover after a crash;
   * too low for a loaded process means spurious aborts (never wrong outcomes: every decision is fenced).
   */
  leaseMs?: number;
  /**
   * How long txkit waits for any one answer from a database before it gives the connection up for lost
   * (default: the larger of 30 s and `prepareTimeoutMs`). PostgreSQL's own timeouts cannot end a wait on a
   * server that never answers (a connection lost without a reset); this does, on every connection txkit uses:
   * the connection is destroyed and the step is treated as a lost connection (rolled back before the
   * decision, fenced at the decision, left to recovery after it). See `docs/operations.md` for the worst case
   * of each call.
   */
  responseTimeoutMs?: number;
  /**
   * Write the commit decision inside the log participant's own transaction and commit that branch one-phase,
   * last, instead of preparing it and inserting the decision separately (default true; only applies when `log`
   * is a participant's pool and that participant is touched). Saves one round trip and one fsync.
   */
  decisionInLogParticipant?: boolean;
  /**
   * Send the callback's statements that have parameters as named prepared statements (default false): each
   * distinct text is parsed once per connection, and after a few executions PostgreSQL plans it once too, which
   * takes CPU off the participants' servers. Off by default because a named statement outlives schema changes
   * badly — after a migration that changes what a `SELECT *` returns, it fails with "cached plan must not change
   * result type" until its connection is closed — and because a transaction-mode pooler that does not track
   * prepared statements (before PgBouncer 1.21) cannot carry it. Every distinct text stays prepared on every
   * connection that ran it: keep statement texts fixed (values as parameters, never spliced in).
   */
  preparedStatements?: boolean;
  /** Fault injection for tests (see `txkit/testing`): called at every `2pc:*` fault point. Unset in production. */
  faults?: FaultHook;
}

/**
 * Per-transaction options of {@link TwoPhaseCoordinator.transaction}.
 *
 * @example
 * await coordinator.transaction(work, { isolationLevel: 'repeatable read', timeoutMs: 2_000, lockTimeoutMs: 500 });
 */
export interface TransactionOptions {
  /** Isolation level of every branch of this transaction. */
  isolationLevel?: 'read committed' | 'repeatable read' | 'serializable';
  /** Time limit until the commit decision; at most the coordinator's `prepareTimeoutMs` (the default). */
  timeoutMs?: number;
  /** `SET LOCAL lock_timeout` in ms for this transaction. */
  lockTimeoutMs?: number;
  /** `SET LOCAL statement_timeout` in ms for this transaction. */
  statementTimeoutMs?: number;
}

/** The coordinator's options after validation, with defaults filled in. */
export interface ResolvedCoordinatorOptions {
  id: string;
  participants: ReadonlyMap<string, pg.Pool>;
  log: pg.Pool;
  schema: string;
  prepareTimeoutMs: number;
  isolationLevel: IsolationLevel;
  lockTimeoutMs: number | undefined;
  statementTimeoutMs: number | undefined;
  decisionRetentionMs: number;
  commitAttempts: number;
  leaseMs: number;
  responseTimeoutMs: number;
  /** The participant whose branch carries the decision, if any. */
  logParticipant: string | undefined;
  preparedStatements: boolean;
  faults: FaultHook | undefined;
}

function positiveInteger(name: string, value: unknown, max = 2_147_483_647): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > max) {
    throw new ConfigurationError(`${name} must be a positive integer (got ${String(value)})`);
  }
  return value;
}

function optionalInteger(name: string, value: unknown): number | undefined {
  return value === undefined ? undefined : positiveInteger(name, value);
}

function isPool(value: unknown): value is pg.Pool {
  const pool = value as { connect?: unknown; query?: unknown } | null | undefined;
  return typeof pool?.connect === 'function' && typeof pool.query === 'function';
}

/** Validates the coordinator's options and fills in defaults; throws {@link ConfigurationError}. */
export function resolveCoordinatorOptions(options: TwoPhaseCoordinatorOptions): ResolvedCoordinatorOptions {
  assertValidName('coordinator id', options.id);
  const entries = Object.entries(options.participants ?? {});
  if (entries.length === 0) throw new ConfigurationError('at least one participant is required');
  for (const [name, pool] of entries) {
    assertValidName('participant name', name);
    if (!isPool(pool)) throw new ConfigurationError(`participant "${name}" is not a pg.Pool`);
  }
  if (!isPool(options.log)) throw new ConfigurationError('log must be a pg.Pool');
  const schema = options.schema ?? DEFAULT_SCHEMA;
  quoteSchema(schema);
  const prepareTimeoutMs = positiveInteger('prepareTimeoutMs', options.prepareTimeoutMs ?? 10_000);
  const isolationLevel = options.isolationLevel ?? 'read committed';
  if (!isIsolationLevel(isolationLevel)) {
    throw new ConfigurationError(`unknown isolation level ${JSON.stringify(isolationLevel)}`);
  }
  const decisionRetentionMs = positiveInteger(
    'decisionRetentionMs',
    options.decisionRetentionMs ?? 24 * 3600_000,
    Number.MAX_SAFE_INTEGER,
  );
  // A deleted abort row no longer fences off a coordinator that is still about to decide commit: keep rows far
  // longer than any transaction may live.
  if (decisionRetentionMs < 10 * prepareTimeoutMs) {
    throw new ConfigurationError('decisionRetentionMs must be at least 10 × prepareTimeoutMs');
  }
  const useLogParticipant = options.decisionInLogParticipant ?? true;
  const responseTimeoutMs = positiveInteger(
    'responseTimeoutMs',
    options.responseTimeoutMs ?? Math.max(30_000, prepareTimeoutMs),
  );
  // Every pool as txkit uses it: bounded round trips (the same wrapper for the same pool, so that the log
  // participant stays recognisable by identity).
  const bounded = (pool: pg.Pool) => boundedPool(pool, responseTimeoutMs);
  return {
    id: options.id,
    participants: new Map(entries.map(([name, pool]) => [name, bounded(pool)])),
    log: bounded(options.log),
    schema,
    prepareTimeoutMs,
    isolationLevel,
    lockTimeoutMs: optionalInteger('lockTimeoutMs', options.lockTimeoutMs),
    statementTimeoutMs: optionalInteger('statementTimeoutMs', options.statementTimeoutMs),
    decisionRetentionMs,
    commitAttempts: positiveInteger('commitAttempts', options.commitAttempts ?? 3, 100),
    leaseMs: positiveInteger('leaseMs', options.leaseMs ?? 30_000),
    responseTimeoutMs,
    logParticipant: useLogParticipant ? entries.find(([, pool]) => pool === options.log)?.[0] : undefined,
    preparedStatements: options.preparedStatements === true,
    faults: options.faults,
  };
}

/** Validates per-transaction options against the coordinator's; throws {@link ConfigurationError}. */
export function resolveTransactionOptions(
  coordinator: ResolvedCoordinatorOptions,
  options: TransactionOptions,
): Required<Pick<TransactionOptions, 'isolationLevel' | 'timeoutMs'>> & TransactionOptions {
  const isolationLevel = options.isolationLevel ?? coordinator.isolationLevel;
  if (!isIsolationLevel(isolationLevel)) {
    throw new ConfigurationError(`unknown isolation level ${JSON.stringify(isolationLevel)}`);
  }
  // Recovery aborts undecided branches older than prepareTimeoutMs: a longer transaction could be aborted under
  // the coordinator's feet (safely, by the fence, but needlessly).
  const timeoutMs = positiveInteger(
    'timeoutMs (at most prepareTimeoutMs)',
    options.timeoutMs ?? coordinator.prepareTimeoutMs,
    coordinator.prepareTimeoutMs,
  );
  return {
    isolationLevel,
    timeoutMs,
    lockTimeoutMs: optionalInteger('lockTimeoutMs', options.lockTimeoutMs) ?? coordinator.lockTimeoutMs,
    statementTimeoutMs:
      optionalInteger('statementTimeoutMs', options.statementTimeoutMs) ?? coordinator.statementTimeoutMs,
  };
}
