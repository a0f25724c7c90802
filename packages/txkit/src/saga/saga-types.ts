import type pg from 'pg';
import type { RetryPolicy } from './retry-policy.js';
import type { SagaFailure } from './saga-log.js';

/**
 * Outputs of earlier steps, keyed by step name (the builder's types make them precise).
 *
 * @example
 * const outputs: StepOutputs = { 'reserve-seats': { seats: [4, 5] } };
 */
export type StepOutputs = Record<string, unknown>;

/**
 * What a step's action receives.
 *
 * @example
 * .step('charge', { run: async (ctx) => payments.charge(ctx.input.customer, ctx.outputs['reserve-seats'].price,
 *   { idempotencyKey: ctx.stepKey, signal: ctx.signal }) })
 */
export interface StepContext<Input, Outputs extends StepOutputs> {
  /** The saga's id (a uuid). */
  readonly sagaId: string;
  /** The saga's name. */
  readonly sagaName: string;
  /** This step's name. */
  readonly step: string;
  /**
   * Stable idempotency key of this step in this saga (`<sagaId>:<step>`), the same on every attempt and after
   * recovery: pass it downstream, or use {@link barrier}, so that a step run again has no second effect.
   */
  readonly stepKey: string;
  /** 1-based attempt number (restarts at 1 when another runner resumes the saga). */
  readonly attempt: number;
  /** The saga's input. */
  readonly input: Input;
  /** Outputs of the earlier steps (as stored in the log: JSON values). */
  readonly outputs: Readonly<Outputs>;
  /** Fires at the step's `timeoutMs`, or when this runner loses its lease on the saga. */
  readonly signal: AbortSignal;
}

/**
 * What a local step's action or compensation receives: a client inside a transaction on the runner's log
 * database, which commits together with the step's log record.
 *
 * @example
 * .localStep('reserve-seats', { run: (ctx) => ctx.client.query('UPDATE seats SET taken = true WHERE id = $1', [id]) })
 */
export interface LocalStepContext<Input, Outputs extends StepOutputs> extends StepContext<Input, Outputs> {
  /** In a transaction the runner commits with the step's log record: no BEGIN/COMMIT of your own. */
  readonly client: pg.PoolClient;
}

/**
 * What a compensation receives: the step context, the action's output (`undefined` when the action's record is
 * missing: the action may or may not have taken effect, the {@link barrier} tells) and the failure that sent
 * the saga into compensation.
 *
 * @example
 * compensate: async (ctx) => refund(ctx.stepKey, ctx.output?.paymentId, { why: ctx.failure.reason })
 */
export type CompensationContext<Input, Outputs extends StepOutputs, Output> = StepContext<Input, Outputs> & {
  readonly output: Output | undefined;
  /** Why the saga compensates: the action that failed, its stable reason and its error (as logged). */
  readonly failure: SagaFailure;
};

/**
 * What a local step's compensation receives: the {@link LocalStepContext} (its `client` is in the transaction
 * that also records the compensation) plus the action's output. A local step is compensated only when its
 * action committed, so `output` is what the action returned.
 *
 * @example
 * async function releaseStock(ctx: LocalCompensationContext<Order, StepOutputs, { reserved: number }>) {
 *   const quantity = ctx.output?.reserved ?? 0;
 *   await ctx.client.query('UPDATE stock SET available = available + $2 WHERE sku = $1', [ctx.input.sku, quantity]);
 * }
 * saga<Order>('place-order').localStep('reserve-stock', { run: reserveStock, compensate: releaseStock });
 */
export type LocalCompensationContext<Input, Outputs extends StepOutputs, Output> = LocalStepContext<
  Input,
  Outputs
> & { readonly output: Output | undefined; readonly failure: SagaFailure };

/**
 * Options of one step.
 *
 * @example
 * .step('charge', { run, compensate, retry: { maxAttempts: 5, initialDelayMs: 20 }, timeoutMs: 2_000 })
 */
export interface StepOptions<Input, Outputs extends StepOutputs, Output> {
  /** The action. Must be idempotent downstream (use `ctx.stepKey` or the barrier): after a crash it runs again. */
  run: (ctx: StepContext<Input, Outputs>) => Promise<Output> | Output;
  /**
   * Undoes the action. Runs for every step whose action may have taken effect, including one whose action
   * failed or whose record is missing, so it must be a no-op when the action never ran (the barrier does that).
   */
  compensate?: (ctx: CompensationContext<Input, Outputs, Output>) => Promise<void> | void;
  /** Retries of the action on retryable errors. */
  retry?: Partial<RetryPolicy>;
  /** Retries of the compensation (on any error but a crash). */
  compensationRetry?: Partial<RetryPolicy>;
  /** Time limit of one attempt (action or compensation); on expiry the signal fires and the attempt is retried. */
  timeoutMs?: number;
  /**
   * Write this step's log record together with the next log write (the next step's record, or the end)
   * instead of on its own: one log commit less. After a crash the step then runs again even if it finished,
   * so it must be idempotent *and return the same output* when run again (e.g. barrier-guarded, with its
   * output derived from the input). Ignored for the last step and for local steps.
   */
  deferRecord?: boolean;
}

/**
 * Options of a local step (see {@link SagaBuilder.localStep}).
 *
 * @example
 * .localStep('reserve-seats', { run: (ctx) => reserve(ctx.client, ctx.input), compensate: (ctx) => release(ctx.client, ctx.input) })
 */
export interface LocalStepOptions<Input, Outputs extends StepOutputs, Output>
  extends Omit<StepOptions<Input, Outputs, Output>, 'run' | 'compensate'> {
  /**
   * The action: writes through `ctx.client` only. It commits together with the step's log record, so it takes
   * effect exactly once; when it throws, both roll back.
   */
  run: (ctx: LocalStepContext<Input, Outputs>) => Promise<Output> | Output;
  /**
   * Undoes the action, through `ctx.client`, in the transaction that records the compensation. Runs only when
   * the action committed (a failed local action rolled back and has nothing to undo).
   */
  compensate?: (ctx: LocalCompensationContext<Input, Outputs, Output>) => Promise<void> | void;
}

/**
 * Options of a guarded step (see {@link SagaBuilder.guardedStep}): a step that writes one participant database,
 * run by the runner in a transaction on that database's pool behind the {@link barrier}.
 *
 * @example
 * .guardedStep('charge', {
 *   pool: paymentsPool,
 *   run: (ctx) => ctx.client.query('INSERT INTO payments (booking, amount) VALUES ($1, $2)', [ctx.input.id, 10]),
 *   compensate: (ctx) => ctx.client.query("UPDATE payments SET status = 'refunded' WHERE booking = $1", [ctx.input.id]),
 * })
 */
export interface GuardedStepOptions<Input, Outputs extends StepOutputs, Output>
  extends Omit<LocalStepOptions<Input, Outputs, Output>, 'deferRecord'> {
  /** The participant database the step writes (it holds a barrier table: {@link migrateBarrier}). */
  pool: pg.Pool;
  /** Schema of that database's barrier table (default `txkit`). */
  schema?: string;
}

/**
 * One step of a built {@link SagaDefinition}, as the runner sees it: its options with defaults applied and its
 * types erased (the functions are only called by the runner). Read it to list or check a saga's steps.
 *
 * @example
 * const names = bookSeats.steps.map((step: StepDefinition) => (step.local ? `${step.name} (local)` : step.name));
 */
export interface StepDefinition {
  /** The step's name, unique in its saga. */
  readonly name: string;
  /** Runs in a transaction on the log database, together with its log record. */
  readonly local: boolean;
  /** The action ({@link StepOptions.run}). */
  readonly run: (ctx: never) => unknown;
  /** The compensation, if the step has one. */
  readonly compensate: ((ctx: never) => unknown) | undefined;
  /** Retries of the action: the step's `retry` over the defaults (3 attempts, 50 ms doubling up to 5 s). */
  readonly retry: RetryPolicy;
  /**
   * Retries of the compensation: the step's `compensationRetry` over the defaults (6 attempts, 100 ms doubling
   * up to 10 s).
   */
  readonly compensationRetry: RetryPolicy;
  /** Time limit of one attempt, if any. */
  readonly timeoutMs: number | undefined;
  /** Whether the record is deferred ({@link StepOptions.deferRecord}; always false for local steps). */
  readonly deferRecord: boolean;
  /**
   * The step's group: steps run group after group, and the steps of one group (added by
   * {@link SagaBuilder.parallel}) run at the same time. A step added by `step()` or `localStep()` is a group
   * of its own. Numbered from 0 in the saga's order.
   */
  readonly group: number;
  /**
   * For a guarded step ({@link SagaBuilder.guardedStep}): the participant database it runs in and the schema of
   * its barrier table there. Its barrier row is its record; the saga log writes none.
   */
  readonly participant: { readonly pool: pg.Pool; readonly schema: string } | undefined;
}

/**
 * A built, frozen saga: a name and its steps. Run it with {@link SagaRunner.run}.
 *
 * @example
 * const bookSeats: SagaDefinition<BookingInput, { 'reserve-seats': Seat[] }> = saga<BookingInput>('book-seats')
 *   .step('reserve-seats', { run: reserve }).build();
 */
export interface SagaDefinition<Input, Outputs extends StepOutputs> {
  /** The saga's name, as stored in the log. */
  readonly name: string;
  /** The steps in order (frozen). */
  readonly steps: readonly StepDefinition[];
  /** Type carrier only (keeps `Input` and `Outputs` in the type); never set at run time. */
  readonly __types?: { input: Input; outputs: Outputs };
}

/**
 * Any saga definition (for lists of them).
 *
 * @example
 * const sagas: AnySagaDefinition[] = [bookSeats, cancelBooking];
 */
export type AnySagaDefinition = SagaDefinition<unknown, StepOutputs>;
