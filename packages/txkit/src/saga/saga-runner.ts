import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'eventemitter3';
import type pg from 'pg';
import { type BackgroundService, startBackgroundService } from '../background-service.js';
import { boundedPool } from '../db/bounded-pool.js';
import { runMigrations } from '../db/migrations.js';
import { isRetryablePostgresError } from '../db/postgres-errors.js';
import { isConnectionError } from '../db/queryable.js';
import { DEFAULT_SCHEMA, quoteSchema } from '../db/schema-name.js';
import { setLocalLimits } from '../db/transaction-limits.js';
import {
  ConfigurationError,
  InDoubtError,
  SagaKeyTakenError,
  SagaLeaseLostError,
  SagaLogUnavailableError,
} from '../errors.js';
import type { FaultHook } from '../faults.js';
import { type HeldLease, LeaseKeeper } from './lease-keeper.js';
import { RecordBatcher } from './record-batcher.js';
import { resumeClaimed, resumeExpiredSagas } from './resume-sagas.js';
import { backoffDelay, type RetryPolicy, resolveRetryPolicy, sleep } from './retry-policy.js';
import type { SagaRunnerEvents } from './saga-events.js';
import { type ExecutionDeps, SagaExecution } from './saga-execution.js';
import type { SagaHistory } from './saga-history.js';
import { insertSaga, recordStep, type SagaRow } from './saga-log.js';
import { SagaLogWriter } from './saga-log-writer.js';
import { sagaMigrations } from './saga-migrations.js';
import { SagaOperator, type StuckSaga } from './saga-operator.js';
import { outcomeFromRow, type SagaOutcome } from './saga-outcome.js';
import type { AnySagaDefinition, SagaDefinition, StepOutputs } from './saga-types.js';

/**
 * Options of a {@link SagaRunner}.
 *
 * @example
 * const options: SagaRunnerOptions = { pool: logPool, id: `api-${process.pid}`, sagas: [bookSeats], leaseMs: 10_000 };
 */
export interface SagaRunnerOptions {
  /** The pool of the database that holds the saga log (and where local steps run). */
  pool: pg.Pool;
  /** This runner's name (e.g. the instance), stored as the owner of the sagas it drives. */
  id: string;
  /** Every saga this runner may run or recover, by name. */
  sagas: readonly SagaDefinition<unknown, StepOutputs>[];
  /** Schema of the log tables (default `txkit`). */
  schema?: string;
  /** How long a runner's claim on a saga lasts without renewal (default 30 s). Heartbeats renew it. */
  leaseMs?: number;
  /** How long `run()` waits for the outcome of a saga started elsewhere with the same key (default 60 s). */
  waitTimeoutMs?: number;
  /** A saga recovered more often than this is compensated (or, when compensating, failed). Default 10. */
  maxClaims?: number;
  /** Retries of a log write that failed transiently (default 5 attempts from 50 ms). */
  logRetry?: Partial<RetryPolicy>;
  /**
   * Whether the log's hot-path statements are prepared once per connection (default true: about half of their
   * server cost is planning). Turn off behind a transaction-mode pooler that does not track prepared statements
   * (PgBouncer before 1.21).
   */
  preparedStatements?: boolean;
  /**
   * How long the runner waits for any one answer from the log database before it gives the connection up for
   * lost (default: a third of `leaseMs`, at least 1 s). It bounds every log write, lease renewal and recovery
   * claim, and the statements of local steps, even on a server that never answers; shorter than the lease, so a
   * runner cut off from its log stops its sagas before another runner may claim them.
   */
  responseTimeoutMs?: number;
  /**
   * `lock_timeout` of every transaction the runner begins for a step — local and guarded steps and their
   * compensations — set with `SET LOCAL` in the same round trip as BEGIN (no statement of its own). A lock wait
   * that runs out fails the attempt with 55P03, which is retried. Unset: the server's setting.
   */
  lockTimeoutMs?: number;
  /**
   * `statement_timeout` of the same transactions: a statement that runs longer fails with 57014, a step error
   * (not retried). Unset: the server's setting.
   */
  statementTimeoutMs?: number;
  /** Fault injection for tests (see `txkit/testing`): called at every `saga:*` fault point. Unset in production. */
  faults?: FaultHook;
}

/**
 * Options of one {@link SagaRunner.run}.
 *
 * @example
 * await runner.run(bookSeats, input, { key: request.headers['idempotency-key'], waitTimeoutMs: 5_000 });
 */
export interface RunOptions {
  /**
   * Idempotency key, unique per saga name: a second run with the same key runs nothing and returns the first
   * run's outcome (waiting for it while it is in flight). Its input is not compared with the first one's.
   */
  key?: string;
  /**
   * Overrides the runner's `waitTimeoutMs` for this call. (A run in flight in this same runner is awaited
   * directly, without this limit.)
   */
  waitTimeoutMs?: number;
}

/**
 * Runs sagas durably over a log in your own PostgreSQL, and recovers the ones whose runner died.
 *
 * @example
 * const runner = new SagaRunner({ pool: logPool, id: 'api-1', sagas: [bookSeats] });
 * await runner.migrate();
 * const outcome = await runner.run(bookSeats, input, { key: idempotencyKey });
 * const recovery = runner.startRecovery({ intervalMs: 1_000 });
 * await recovery.stop();
 */
export class SagaRunner extends EventEmitter<SagaRunnerEvents> {
  readonly #schemaName: string;
  readonly #owner: string;
  readonly #definitions = new Map<string, AnySagaDefinition>();
  readonly #inFlight = new Map<string, Promise<SagaOutcome>>();
  readonly #services = new Set<BackgroundService>();
  readonly #waitTimeoutMs: number;
  readonly #maxClaims: number;
  readonly #log: SagaLogWriter;
  readonly #deps: ExecutionDeps;
  readonly #operator: SagaOperator;

  constructor(options: SagaRunnerOptions) {
    super();
    if (!options.pool) throw new ConfigurationError('SagaRunner needs a pool (the saga log database)');
    if (!options.id) throw new ConfigurationError('SagaRunner needs an id');
    const leaseMs = options.leaseMs ?? 30_000;
    this.#schemaName = options.schema ?? DEFAULT_SCHEMA;
    this.#owner = options.id;
    this.#waitTimeoutMs = options.waitTimeoutMs ?? 60_000;
    this.#maxClaims = options.maxClaims ?? 10;
    for (const definition of options.sagas) {
      if (this.#definitions.has(definition.name)) {
        throw new ConfigurationError(`two sagas named '${definition.name}' given to runner '${options.id}'`);
      }
      this.#definitions.set(definition.name, definition);
    }
    this.#log = new SagaLogWriter({
      pool: boundedPool(options.pool, options.responseTimeoutMs ?? Math.max(1_000, Math.floor(leaseMs / 3))),
      schema: quoteSchema(this.#schemaName),
      leaseMs,
      retry: resolveRetryPolicy(options.logRetry, {
        maxAttempts: 5,
        initialDelayMs: 50,
        maxDelayMs: 2_000,
        backoffFactor: 2,
      }),
      preparedStatements: options.preparedStatements !== false,
    });
    const stepLimits = {
      lockTimeoutMs: options.lockTimeoutMs,
      statementTimeoutMs: options.statementTimeoutMs,
    };
    setLocalLimits(stepLimits); // throws a ConfigurationError now rather than at the first step
    this.#deps = {
      log: this.#log,
      leases: new LeaseKeeper({ log: this.#log, onError: (error) => this.#safeEmit('error', error) }),
      records: new RecordBatcher(this.#log, (write) =>
        recordStep(this.#log.schema, { ...write, leaseMs: this.#log.leaseMs }),
      ),
      faults: options.faults,
      limits: stepLimits,
      emit: (event, ...args) => this.#safeEmit(event, ...args),
      listens: (event) => this.listenerCount(event) > 0,
    };
    this.#operator = new SagaOperator(this.#log, this.#definitions);
  }

  /** The schema of the saga log tables. */
  get schema(): string {
    return this.#schemaName;
  }

  /** Sagas this runner is driving right now (started here or recovered here). */
  get runningCount(): number {
    return this.#inFlight.size;
  }

  /** Sagas in the dead-letter state, as last seen (refreshed by recovery passes and `stuck()`). */
  get stuckCount(): number {
    return this.#operator.stuckCount;
  }

  /** Statements this runner sent to the saga log so far (to measure the log's cost per saga). */
  get logStatementCount(): number {
    return this.#log.statementCount;
  }

  /**
   * Creates or updates the saga log tables (idempotent; safe from several processes at once).
   *
   * @example
   * await runner.migrate();
   */
  migrate(): Promise<number[]> {
    return runMigrations(this.#log.pool, { schema: this.#schemaName, ...sagaMigrations });
  }

  /**
   * Runs a saga to its end and returns its outcome. The saga is logged before its first step, so if this
   * process dies, recovery (in any runner that knows the saga) drives it on. Rejects only when this runner
   * cannot drive it further (the log unreachable: a {@link TxkitError} coded `SAGA_LOG_UNAVAILABLE`): the saga is then left to
   * recovery.
   *
   * @example
   * const outcome = await runner.run(bookSeats, { seats: [4, 5] }, { key: req.headers['idempotency-key'] });
   * if (outcome.status === 'completed') return outcome.result['issue-ticket'];
   */
  async run<Input, Outputs extends StepOutputs>(
    definition: SagaDefinition<Input, Outputs>,
    input: Input,
    options: RunOptions = {},
  ): Promise<SagaOutcome<Outputs>> {
    try {
      return await this.#run(definition, input, options);
    } catch (error) {
      // Steps' own errors end in outcomes; what else escapes is txkit's (typed), a bug (as itself), or the log
      // database's, raw from pg (a reset connection, a refused connect, a server error): the saga is then left to
      // recovery, which is what SagaLogUnavailableError says.
      if (!isDatabaseError(error)) throw error;
      throw new SagaLogUnavailableError(
        `saga log unreachable while running '${definition.name}'; left to recovery`,
        {
          cause: error,
          context: { saga: definition.name },
        },
      );
    }
  }

  async #run<Input, Outputs extends StepOutputs>(
    definition: SagaDefinition<Input, Outputs>,
    input: Input,
    options: RunOptions,
  ): Promise<SagaOutcome<Outputs>> {
    const known = this.#definitions.get(definition.name);
    if (known !== definition) {
      throw new ConfigurationError(
        `saga '${definition.name}' is not among the sagas of runner '${this.#owner}': pass it in options.sagas`,
      );
    }
    const id = randomUUID();
    const token = randomUUID();
    const key = options.key ?? null;
    const since = Date.now();
    const waitMs = options.waitTimeoutMs ?? this.#waitTimeoutMs;
    const leases = this.#deps.leases;
    // A first step that is local carries the saga's insert in its own transaction (one commit less).
    const folded = known.steps[0]?.local === true;
    let lease: HeldLease;
    if (folded) {
      lease = leases.create(id, token, since);
    } else {
      const started = await this.#insert({ id, key, name: definition.name, input, token });
      if (typeof started !== 'string') {
        // The key is taken: the first run's outcome is the answer (now, or once it is finished).
        return (outcomeFromRow(started) ??
          (await this.#awaitOutcome(started.id, waitMs))) as SagaOutcome<Outputs>;
      }
      lease = leases.hold(id, token, since);
      if (this.#deps.listens('saga:started')) {
        this.#deps.emit('saga:started', { sagaId: id, name: definition.name, key });
      }
    }
    const execution = SagaExecution.started(
      this.#deps,
      { id, definition: known, input, lease },
      folded ? { key, owner: this.#owner } : undefined,
    );
    const work = execution.drive();
    // Tracked until the log holds the end too (written after the answer when the last step is guarded).
    this.#track(
      id,
      work.then((outcome) => execution.settled.then(() => outcome)),
    );
    try {
      return (await work) as SagaOutcome<Outputs>;
    } catch (error) {
      // Another runner took the saga over (our lease expired): its outcome is still this call's answer.
      if (error instanceof SagaLeaseLostError) {
        return (await this.#awaitOutcome(id, waitMs)) as SagaOutcome<Outputs>;
      }
      if (error instanceof SagaKeyTakenError) {
        return (await this.#afterKeyTaken(definition.name, key, id, token, waitMs)) as SagaOutcome<Outputs>;
      }
      throw error;
    }
  }

  /**
   * The outcome of a saga, or `undefined` while it is still running or compensating (or unknown).
   *
   * @example
   * const outcome = await runner.outcome(sagaId);
   */
  async outcome(sagaId: string): Promise<SagaOutcome | undefined> {
    const row = await this.#operator.saga(sagaId);
    return row ? outcomeFromRow(row) : undefined;
  }

  /**
   * What the saga log knows about a saga — status, failure, and every step record with its time — by id, or by
   * saga name and idempotency key. Any process with access to the log can ask, whichever runner drove the saga;
   * `undefined` when there is no such saga (or it was deleted after the retention).
   *
   * @example
   * const history = await runner.history({ name: 'book-seats', key: bookingId });
   * for (const r of history?.records ?? []) console.log(r.at, r.kind, r.step, r.status);
   */
  history(saga: string | { name: string; key: string }): Promise<SagaHistory | undefined> {
    return this.#operator.history(saga);
  }

  /**
   * One recovery pass: claims up to `batchSize` sagas whose lease expired and drives each to its end.
   * Several runners may recover at once; each saga is driven by one of them.
   *
   * @example
   * const { resumed } = await runner.recover();
   */
  async recover(options: { batchSize?: number } = {}): Promise<{
    resumed: number;
    outcomes: SagaOutcome[];
    errors: unknown[];
  }> {
    const { outcomes, errors } = await resumeExpiredSagas(
      this.#deps,
      this.#definitions,
      {
        owner: this.#owner,
        batchSize: options.batchSize ?? 20,
        maxClaims: this.#maxClaims,
        exclude: [...this.#inFlight.keys()],
      },
      (id, work) => this.#track(id, work),
    );
    return { resumed: outcomes.length + errors.length, outcomes, errors };
  }

  /**
   * Starts recovery as a background service: a pass every `intervalMs`, errors as `'error'` events.
   *
   * @example
   * const service = runner.startRecovery({ intervalMs: 1_000 });
   * process.on('SIGTERM', () => service.stop());
   */
  startRecovery(options: { intervalMs: number; batchSize?: number }): BackgroundService {
    return this.#service(options.intervalMs, async () => {
      const { errors } = await this.recover(options);
      for (const error of errors) this.#safeEmit('error', error);
      await this.#operator.refreshStuckCount();
    });
  }

  /**
   * Sagas whose compensation gave up (status `failed`), with the failed step and the compensation error.
   *
   * @example
   * for (const s of await runner.stuck()) console.warn(s.sagaId, s.compensation.step, s.compensation.error);
   */
  stuck(limit = 100): Promise<StuckSaga[]> {
    return this.#operator.stuck(limit);
  }

  /**
   * Operator action: runs the compensation of a `failed` saga again (from the compensation that gave up),
   * after the cause was fixed. Returns the new outcome.
   *
   * @example
   * const outcome = await runner.retryFailed(stuck[0].sagaId);
   */
  async retryFailed(sagaId: string): Promise<SagaOutcome> {
    const since = Date.now();
    const row = await this.#operator.reopen(sagaId, this.#owner, randomUUID());
    const work = resumeClaimed(this.#deps, this.#definitions, row, Number.POSITIVE_INFINITY, since);
    this.#track(sagaId, work);
    try {
      return await work;
    } finally {
      await this.#operator.refreshStuckCount().catch(() => {});
    }
  }

  /**
   * Deletes completed and compensated sagas finished more than `olderThanMs` ago (failed ones stay).
   * Returns how many were deleted.
   *
   * @example
   * await runner.cleanup({ olderThanMs: 7 * 24 * 3600_000 });
   */
  cleanup(options: { olderThanMs: number; batchSize?: number }): Promise<number> {
    return this.#operator.cleanup(options.olderThanMs, options.batchSize ?? 1_000);
  }

  /**
   * Starts the retention cleanup as a background service.
   *
   * @example
   * const cleanup = runner.startCleanup({ intervalMs: 3600_000, retentionMs: 7 * 24 * 3600_000 });
   */
  startCleanup(options: { intervalMs: number; retentionMs: number }): BackgroundService {
    return this.#service(options.intervalMs, async () => {
      await this.cleanup({ olderThanMs: options.retentionMs });
    });
  }

  /**
   * Waits until the sagas this runner drives now have ended and the log holds their ends — including the end of
   * a saga whose last step is guarded, which is written after `run()` answered.
   *
   * @example
   * await Promise.all(requests.map((input) => runner.run(bookSeats, input)));
   * await runner.idle(); // every outcome above is now in the log, too
   */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  /**
   * Stops this runner's background services (waiting for their passes) and waits for the sagas in flight.
   *
   * @example
   * await runner.close();
   */
  async close(): Promise<void> {
    await Promise.all([...this.#services].map((s) => s.stop()));
    await this.idle();
  }

  #service(intervalMs: number, pass: () => Promise<void>): BackgroundService {
    const service = startBackgroundService({
      intervalMs,
      pass,
      onError: (error) => this.#safeEmit('error', error),
    });
    this.#services.add(service);
    return service;
  }

  #track(id: string, work: Promise<SagaOutcome>): void {
    this.#inFlight.set(id, work);
    const done = () => {
      if (this.#inFlight.get(id) === work) this.#inFlight.delete(id);
    };
    work.then(done, done);
  }

  // Inserts the saga row, retrying transient errors. Returns the id of the saga that holds the key: ours, or
  // the first run's. A retried insert that finds its own row means the earlier attempt did commit.
  async #insert(saga: {
    id: string;
    key: string | null;
    name: string;
    input: unknown;
    token: string;
  }): Promise<string | SagaRow> {
    const statement = insertSaga(this.#log.schema, {
      ...saga,
      owner: this.#owner,
      leaseMs: this.#log.leaseMs,
    });
    const policy = this.#log.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        const { rows } = await this.#log.query(statement, true);
        if (rows.length === 1 || saga.key === null) return saga.id;
        const existing = await this.#operator.sagaByKey(saga.name, saga.key);
        if (existing) return existing.id === saga.id ? saga.id : existing;
        // The key's saga was deleted between the two statements (retention): start ours.
      } catch (error) {
        if (!isRetryablePostgresError(error) || attempt >= policy.maxAttempts) {
          // The insert may have committed: the saga may run later through recovery.
          throw new SagaLogUnavailableError(`could not start saga ${saga.id}: the saga log is unreachable`, {
            cause: error,
            context: { sagaId: saga.id, saga: saga.name },
          });
        }
      }
      await sleep(backoffDelay(policy, attempt));
    }
  }

  // A folded start found its key (or its id) taken. Either another run holds the key — its outcome is the
  // answer — or an earlier attempt of our own first transaction did commit although it reported an error:
  // then the saga is ours, written, and driven on from the log.
  async #afterKeyTaken(
    name: string,
    key: string | null,
    id: string,
    token: string,
    waitMs: number,
  ): Promise<SagaOutcome> {
    const row = key === null ? await this.#operator.saga(id) : await this.#operator.sagaByKey(name, key);
    if (!row)
      throw new InDoubtError(`saga ${id} was not started and its key holder is gone`, {
        context: { sagaId: id },
      });
    if (row.id === id && row.lease_token === token && !outcomeFromRow(row)) {
      const work = resumeClaimed(this.#deps, this.#definitions, row, Number.POSITIVE_INFINITY, Date.now());
      this.#track(id, work);
      return work;
    }
    return outcomeFromRow(row) ?? this.#awaitOutcome(row.id, waitMs);
  }

  // Waits for the outcome of a saga driven elsewhere (another call with the same key, another runner).
  async #awaitOutcome(sagaId: string, timeoutMs: number): Promise<SagaOutcome> {
    const local = this.#inFlight.get(sagaId);
    if (local) {
      const outcome = await local.catch(() => undefined);
      if (outcome) return outcome;
    }
    const deadline = Date.now() + timeoutMs;
    let delay = 10;
    for (;;) {
      const outcome = await this.outcome(sagaId);
      if (outcome) return outcome;
      if (Date.now() >= deadline) {
        throw new InDoubtError(`saga ${sagaId} is still in flight after ${timeoutMs} ms`, {
          context: { sagaId },
        });
      }
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
      delay = Math.min(delay * 2, 250);
    }
  }

  // A throwing listener must not break a saga in the middle of a step; it is reported as an 'error' event.
  #safeEmit<K extends keyof SagaRunnerEvents>(event: K, ...args: SagaRunnerEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: SagaRunnerEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      if (event !== 'error') this.#safeEmit('error', error);
    }
  }
}

/** A raw error of node-postgres: a lost connection, or an error the server sent (pg's DatabaseError). */
function isDatabaseError(error: unknown): boolean {
  const e = error as { severity?: unknown; code?: unknown } | undefined;
  return isConnectionError(error) || (typeof e?.severity === 'string' && typeof e?.code === 'string');
}
