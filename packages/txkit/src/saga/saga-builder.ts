import { DEFAULT_SCHEMA } from '../db/schema-name.js';
import { ConfigurationError } from '../errors.js';
import { defaultCompensationRetry, defaultStepRetry, resolveRetryPolicy } from './retry-policy.js';
import type {
  GuardedStepOptions,
  LocalStepOptions,
  SagaDefinition,
  StepDefinition,
  StepOptions,
  StepOutputs,
} from './saga-types.js';

// NewStepName and WithStep are the builder's type plumbing: users meet them only through inference, so they
// stay unexported (a smaller API to keep stable) and typedoc.jsonc lists them as intentionally not exported.

/** A step name not used yet in this saga (duplicates are a type error, and a runtime error). */
type NewStepName<Name extends string, Outputs> = Name extends keyof Outputs ? never : Name;

/** `Outputs` plus the new step's awaited output under its name: what later steps see on `ctx.outputs`. */
type WithStep<Outputs extends StepOutputs, Name extends string, Output> = {
  [K in keyof Outputs | Name]: K extends Name ? Awaited<Output> : Outputs[K];
};

/** `Outputs` plus each branch's awaited output under its name. */
type WithBranches<Outputs extends StepOutputs, Branches extends ParallelBranches> = {
  [K in keyof Outputs | keyof Branches]: K extends keyof Branches
    ? Awaited<ReturnType<Branches[K]['run']>>
    : K extends keyof Outputs
      ? Outputs[K]
      : never;
};

/** The branches of a parallel group, by step name (all the type needs of them: their actions). */
type ParallelBranches = { [name: string]: { run: (ctx: never) => unknown } };

const stepName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * An immutable saga builder: every `.step()` returns a new builder, so a partial builder can be shared and
 * extended; `.build()` returns a frozen definition. Step outputs accumulate in the type, so a step sees the
 * typed outputs of the steps before it on `ctx.outputs`.
 *
 * @example
 * const bookSeats = saga<BookingInput>('book-seats')
 *   .step('reserve-seats', { run: async (ctx) => reserve(ctx), compensate: async (ctx) => release(ctx) })
 *   .step('charge', { run: async (ctx) => charge(ctx.outputs['reserve-seats'].price) })
 *   .build();
 */
export class SagaBuilder<Input, Outputs extends StepOutputs = Record<never, never>> {
  readonly #name: string;
  readonly #steps: readonly StepDefinition[];

  /** @internal use {@link saga} */
  constructor(name: string, steps: readonly StepDefinition[] = []) {
    this.#name = name;
    this.#steps = steps;
  }

  /**
   * Adds a step whose action runs wherever it likes (another database, a service). Its log record is written
   * after the action, so after a crash in between the action runs again: make it idempotent downstream.
   *
   * @example
   * saga<{ amount: number }>('pay').step('charge', { run: (ctx) => charge(ctx.input.amount, ctx.stepKey) })
   */
  step<Name extends string, Output>(
    name: NewStepName<Name, Outputs>,
    options: StepOptions<Input, Outputs, Output>,
  ): SagaBuilder<Input, WithStep<Outputs, Name, Output>> {
    return this.#add(name, false, options as unknown as StepOptions<unknown, StepOutputs, unknown>);
  }

  /**
   * Adds a step that writes only the runner's own log database: its action (and its compensation) run in a
   * transaction on the log pool that also writes the step's log record, so the effect and the record commit
   * together — exactly once, with no barrier and no extra log commit.
   *
   * @example
   * saga<Booking>('book').localStep('reserve-seats', {
   *   run: (ctx) => ctx.client.query('UPDATE seats SET booking = $1 WHERE id = ANY($2)', [ctx.sagaId, ctx.input.seats]),
   * })
   */
  localStep<Name extends string, Output>(
    name: NewStepName<Name, Outputs>,
    options: LocalStepOptions<Input, Outputs, Output>,
  ): SagaBuilder<Input, WithStep<Outputs, Name, Output>> {
    return this.#add(name, true, options as unknown as StepOptions<unknown, StepOutputs, unknown>);
  }

  /**
   * Adds a guarded step: its action (and its compensation) run in a transaction the runner opens on `pool`, behind
   * the {@link barrier}, whose row — with the step's output — commits with the step's write. That row is the
   * step's record: the saga log writes nothing for it, so the step costs no log statement and no commit of the
   * log's own. After a crash the runner runs it again; the barrier then finds it done and returns the stored
   * output without calling `run`. When the saga's last step is guarded, `run()` answers once it committed and
   * the saga's end is written to the log afterwards (with other sagas' log writes): a crash before that write
   * is resumed to the same outcome and outputs.
   *
   * @example
   * saga<Booking>('book').guardedStep('charge', {
   *   pool: paymentsPool,
   *   run: (ctx) => ctx.client.query('INSERT INTO payments (booking) VALUES ($1)', [ctx.input.id]),
   * })
   */
  guardedStep<Name extends string, Output>(
    name: NewStepName<Name, Outputs>,
    options: GuardedStepOptions<Input, Outputs, Output>,
  ): SagaBuilder<Input, WithStep<Outputs, Name, Output>> {
    if (!options?.pool) throw new ConfigurationError(`guarded step '${name}' needs the pool of its database`);
    const participant = Object.freeze({ pool: options.pool, schema: options.schema ?? DEFAULT_SCHEMA });
    const { pool: _pool, schema: _schema, ...rest } = options;
    const step = this.#define(
      this.#steps,
      name,
      false,
      rest as StepOptions<unknown, StepOutputs, unknown>,
      this.#nextGroup(),
    );
    return new SagaBuilder(
      this.#name,
      Object.freeze([...this.#steps, Object.freeze({ ...step, participant })]),
    );
  }

  /**
   * Adds a group of steps that run at the same time (parallel branches), by step name. The group starts when
   * the steps before it have finished, and the steps after it start when every branch has; each branch sees
   * the outputs of the steps before the group, not of its sibling branches. The branches' records are
   * written together once the whole group has finished (one log write per group). When a branch fails, the
   * others are let finish, and then every branch of the group (its compensation is a no-op behind the barrier
   * where the action never ran) and every step before the group are compensated, group by group in reverse
   * order. Branches are steps as `step()` adds them: not local steps.
   *
   * @example
   * saga<Booking>('book')
   *   .localStep('seat', { run: reserveSeat, compensate: releaseSeat })
   *   .parallel({
   *     payment: { run: (ctx) => charge(ctx.input, ctx.stepKey), compensate: (ctx) => refund(ctx.stepKey) },
   *     ticket: { run: (ctx) => issueTicket(ctx.input, ctx.stepKey), compensate: (ctx) => voidTicket(ctx.stepKey) },
   *   })
   *   .build();
   */
  parallel<Branches extends { [name: string]: StepOptions<Input, Outputs, unknown> }>(
    branches: Branches,
  ): SagaBuilder<Input, WithBranches<Outputs, Branches>> {
    return this.#group(
      Object.entries(branches).map(([name, options]) => ({ name, options, participant: undefined })),
    );
  }

  /**
   * {@link parallel} with guarded steps as branches ({@link guardedStep}): each branch runs in a transaction on
   * its own database behind the barrier, its barrier row its record, so the group writes nothing to the log —
   * and when it is the saga's last group, `run()` answers once every branch committed and the end is written
   * afterwards, as after a last guarded step.
   *
   * @example
   * saga<Booking>('book')
   *   .localStep('seat', { run: reserveSeat, compensate: releaseSeat })
   *   .parallelGuarded({
   *     payment: { pool: paymentsPool, run: (ctx) => ctx.client.query(chargeSql, [ctx.input.id]) },
   *     ticket: { pool: ticketsPool, run: (ctx) => ctx.client.query(ticketSql, [ctx.input.id]) },
   *   })
   *   .build();
   */
  parallelGuarded<Branches extends { [name: string]: GuardedStepOptions<Input, Outputs, unknown> }>(
    branches: Branches,
  ): SagaBuilder<Input, WithBranches<Outputs, Branches>> {
    return this.#group(
      Object.entries(branches).map(([name, options]) => {
        if (!options?.pool)
          throw new ConfigurationError(`guarded step '${name}' needs the pool of its database`);
        const { pool, schema, ...rest } = options;
        return {
          name,
          options: rest as StepOptions<unknown, StepOutputs, unknown>,
          participant: { pool, schema: schema ?? DEFAULT_SCHEMA },
        };
      }),
    );
  }

  /**
   * Freezes the definition. A saga needs at least one step.
   *
   * @example
   * const definition = saga<Input>('s').step('a', { run }).build();
   */
  build(): SagaDefinition<Input, Outputs> {
    if (this.#steps.length === 0) throw new ConfigurationError(`saga '${this.#name}' has no steps`);
    return Object.freeze({ name: this.#name, steps: this.#steps });
  }

  #add<R extends StepOutputs>(
    name: string,
    local: boolean,
    options: StepOptions<unknown, StepOutputs, unknown>,
  ): SagaBuilder<Input, R> {
    const step = this.#define(this.#steps, name, local, options, this.#nextGroup());
    return new SagaBuilder<Input, R>(this.#name, Object.freeze([...this.#steps, step]));
  }

  #group<R extends StepOutputs>(
    branches: {
      name: string;
      options: StepOptions<never, never, unknown>;
      participant: StepDefinition['participant'];
    }[],
  ): SagaBuilder<Input, R> {
    if (branches.length === 0)
      throw new ConfigurationError(`saga '${this.#name}': a parallel group needs a step`);
    const group = this.#nextGroup();
    let steps = this.#steps;
    for (const { name, options, participant } of branches) {
      const step = this.#define(steps, name, false, branchOptions(options), group);
      steps = [
        ...steps,
        participant ? Object.freeze({ ...step, participant: Object.freeze(participant) }) : step,
      ];
    }
    return new SagaBuilder(this.#name, Object.freeze(steps));
  }

  #nextGroup(): number {
    return (this.#steps.at(-1)?.group ?? -1) + 1;
  }

  #define(
    steps: readonly StepDefinition[],
    name: string,
    local: boolean,
    options: StepOptions<unknown, StepOutputs, unknown>,
    group: number,
  ): StepDefinition {
    if (!stepName.test(name)) {
      throw new ConfigurationError(`invalid step name '${name}': 1-100 characters of A-Z a-z 0-9 . _ -`);
    }
    if (steps.some((s) => s.name === name)) {
      throw new ConfigurationError(`saga '${this.#name}' already has a step named '${name}'`);
    }
    if (typeof options?.run !== 'function')
      throw new ConfigurationError(`step '${name}' needs a run function`);
    if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) {
      throw new ConfigurationError(`step '${name}': timeoutMs must be > 0`);
    }
    return Object.freeze({
      name,
      local,
      run: options.run,
      compensate: options.compensate,
      retry: resolveRetryPolicy(options.retry, defaultStepRetry),
      compensationRetry: resolveRetryPolicy(options.compensationRetry, defaultCompensationRetry),
      timeoutMs: options.timeoutMs,
      deferRecord: !local && options.deferRecord === true,
      group,
      participant: undefined,
    });
  }
}

// A branch's record is always written with its group's: `deferRecord` has nothing to defer there.
function branchOptions(
  options: StepOptions<never, never, unknown>,
): StepOptions<unknown, StepOutputs, unknown> {
  return { ...(options as StepOptions<unknown, StepOutputs, unknown>), deferRecord: false };
}

/**
 * Starts a saga definition. The name identifies the saga in the log: every runner that may recover it must be
 * given a definition with the same name and steps.
 *
 * @example
 * const bookSeats = saga<BookingInput>('book-seats').step('reserve-seats', { run, compensate }).build();
 */
export function saga<Input>(name: string): SagaBuilder<Input> {
  if (!stepName.test(name)) {
    throw new ConfigurationError(`invalid saga name '${name}': 1-100 characters of A-Z a-z 0-9 . _ -`);
  }
  return new SagaBuilder<Input>(name);
}
