import { setMaxListeners } from 'node:events';
import type { Statement } from '../db/queryable.js';
import type { TransactionLimits } from '../db/transaction-limits.js';
import {
  ConfigurationError,
  InDoubtError,
  SagaKeyTakenError,
  SagaLeaseLostError,
  StepRejectedError,
} from '../errors.js';
import type { FaultHook, SagaFaultPoint } from '../faults.js';
import { databaseAttributes } from '../tracing/db-attributes.js';
import { startSpan, type TxkitSpan, untraced } from '../tracing/span.js';
import { type HeldLease, type LeaseKeeper, leaseLostError } from './lease-keeper.js';
import { inLogTransaction } from './log-transaction.js';
import type { RecordBatcher } from './record-batcher.js';
import { backoffDelay, classifyStepError, failureReason, sleep } from './retry-policy.js';
import type { SagaRunnerEvents, StepEvent } from './saga-events.js';
import {
  type ActionRecord,
  endCompensation,
  failSaga,
  insertEndedSaga,
  insertSagaWithRecord,
  recordCompensation,
  recordStep,
  type SagaFailure,
  type SagaRow,
  type StepRow,
  selectSteps,
  startCompensation,
} from './saga-log.js';
import type { FencedWrite, SagaLogWriter } from './saga-log-writer.js';
import { asLogged, type SagaOutcome, serializeError } from './saga-outcome.js';
import { compensationPlan, groupMembers, nextIndex, type PlanState, widestGroup } from './saga-plan.js';
import type { AnySagaDefinition, StepDefinition, StepOutputs } from './saga-types.js';
import { runAttempt } from './step-attempt.js';
import {
  abandonsClient,
  attemptOptions,
  byKind,
  failureOf,
  guardedStepAction,
  guardedStepCompensation,
  type Kind,
  remoteAction,
  remoteCompensation,
  type StepSite,
  stepContext,
  stopsRunner,
} from './step-work.js';

/** A settled promise, shared: what `#fault` answers without a fault hook, and `settled` before a lazy end. */
const noFault: Promise<void> = Promise.resolve();

/** What every execution of one runner shares: its log, its lease keeper, its fault hook and its events. */
export interface ExecutionDeps {
  readonly log: SagaLogWriter;
  readonly leases: LeaseKeeper;
  /** The group commit of step records. */
  readonly records: RecordBatcher;
  readonly faults: FaultHook | undefined;
  /** Bounds of every transaction txkit begins for a local or guarded step (`SET LOCAL` in BEGIN's round trip). */
  readonly limits: TransactionLimits;
  emit<K extends keyof SagaRunnerEvents>(event: K, ...args: SagaRunnerEvents[K]): void;
  /** Whether anyone listens to `event`: the payloads of the events every step emits are built only then. */
  listens(event: keyof SagaRunnerEvents): boolean;
}

/** The events whose payload is a {@link StepEvent} and nothing more. */
type PlainStepEvent = 'step:started' | 'step:completed' | 'compensation:started' | 'compensation:completed';

type AttemptEnd = { ok: true; value: unknown } | { ok: false; error: unknown; attempt: number };
/** An action that failed for good: the saga compensates. */
type ActionFailure = SagaFailure & { index: number; attempt: number };

/**
 * One running saga, owned by the runner that holds its lease: its state, its lease and the log writes that
 * move it on. `drive()` runs the remaining groups of steps in order, then — after a failure — the
 * compensations in reverse order, through one attempt path for actions and compensations alike. Durability
 * rules, each fenced by the lease token (a runner that lost the saga can record nothing):
 * - a step's record is written after its effect: a crash in between runs the action again on resume (steps are
 *   idempotent downstream, by `ctx.stepKey` or the barrier);
 * - a local step's record commits in the step's own transaction: effect and record together or neither;
 * - the records of a parallel group are written together once every branch has ended.
 */
export class SagaExecution implements PlanState {
  readonly id: string;
  readonly definition: AnySagaDefinition;
  readonly input: unknown;
  readonly lease: HeldLease;
  readonly done = new Set<string>();
  readonly compensated = new Set<string>();
  readonly #deps: ExecutionDeps;
  readonly #outputs: StepOutputs = {};
  /** This saga as the step work of step-work.ts sees it. */
  readonly #site: StepSite;
  #status: 'running' | 'compensating' = 'running';
  #failure: SagaFailure | undefined;
  /** The log already says the saga ended (its last write did it). */
  #finished = false;
  /**
   * The saga's insert, not yet written: it goes into the first step's transaction when that step is local
   * (one commit less). Until it commits, the saga does not exist for anyone else.
   */
  #pendingStart: { key: string | null; owner: string } | undefined;
  /** Records of finished `deferRecord` steps and parallel branches, written with the next log write. */
  #deferred: ActionRecord[] = [];
  /** Rebuilt from the log by recovery (an earlier owner may have answered the caller already). */
  #resumed = false;
  /** The saga's end is written after `drive()` answered (its last step is guarded); the lease is kept till then. */
  #lazyEnd = false;
  #settled: Promise<void> = noFault;
  /** The trace span of the current `drive()`: its attempts and log writes are children (see tracing/). */
  #span: TxkitSpan = untraced;

  private constructor(
    deps: ExecutionDeps,
    id: string,
    definition: AnySagaDefinition,
    input: unknown,
    lease: HeldLease,
  ) {
    this.#deps = deps;
    this.id = id;
    this.definition = definition;
    this.input = input;
    this.lease = lease;
    // Every attempt running for the saga listens to the lease's signal (a step without a time limit is given it
    // as its own; its transaction and the step's own calls listen too): a parallel group adds a few listeners
    // per branch, each removed when the branch ends — more than Node's default of 10 is no leak then, and must
    // not warn as one. (Not set for every saga: it costs about as much as the rest of the constructor.)
    if (widestGroup(definition.steps) > 1) setMaxListeners(0, lease.controller.signal);
    const outputs = this.#outputs;
    const self = this;
    this.#site = {
      sagaId: id,
      sagaName: definition.name,
      input,
      outputs,
      get failure() {
        return self.#failure;
      },
      limits: deps.limits,
      fault: (point, step, attempt) => this.#fault(point, step, attempt),
    };
  }

  /** A saga just started by `run()`; `pendingStart` when its insert rides in its first (local) step. */
  static started(
    deps: ExecutionDeps,
    p: { id: string; definition: AnySagaDefinition; input: unknown; lease: HeldLease },
    pendingStart?: { key: string | null; owner: string },
  ): SagaExecution {
    const execution = new SagaExecution(deps, p.id, p.definition, p.input, p.lease);
    execution.#pendingStart = pendingStart;
    return execution;
  }

  /** Rebuilds a claimed saga from its row and step records. */
  static fromLog(
    deps: ExecutionDeps,
    row: SagaRow,
    records: readonly StepRow[],
    definition: AnySagaDefinition,
    lease: HeldLease,
  ): SagaExecution {
    if (row.status !== 'running' && row.status !== 'compensating') {
      throw new ConfigurationError(`saga ${row.id} is ${row.status}, nothing to resume`);
    }
    const execution = new SagaExecution(deps, row.id, definition, row.input, lease);
    execution.#status = row.status;
    execution.#resumed = true;
    const names = new Set(definition.steps.map((s) => s.name));
    for (const record of records) {
      if (!names.has(record.step)) {
        throw new ConfigurationError(
          `saga ${row.id} ('${row.name}') has a record of step '${record.step}' that the definition lacks`,
          { context: { sagaId: row.id, saga: row.name, step: record.step } },
        );
      }
      if (record.status !== 'done') continue;
      if (record.kind === 'action') {
        execution.done.add(record.step);
        execution.#outputs[record.step] = record.output;
      } else {
        execution.compensated.add(record.step);
      }
    }
    if (row.failed_step) {
      execution.#failure = {
        step: row.failed_step,
        reason: row.reason ?? 'step-error',
        error: row.error ?? { name: 'Error', message: 'unknown' },
      };
    }
    return execution;
  }

  get steps(): readonly StepDefinition[] {
    return this.definition.steps;
  }

  get failure(): SagaFailure | undefined {
    return this.#failure;
  }

  get status(): 'running' | 'compensating' {
    return this.#status;
  }

  /** Resolves once the log holds everything `drive()` answered (its end, when that was written lazily). */
  get settled(): Promise<void> {
    return this.#settled;
  }

  /**
   * Drives the saga to its end and returns the outcome; throws when this runner must stop driving it (simulated
   * crash, lost lease, log unreachable, key taken), leaving it to whoever holds it next.
   */
  async drive(): Promise<SagaOutcome> {
    const span = startSpan(this.#resumed ? 'txkit.saga.resume' : 'txkit.saga.run', {
      'txkit.saga.name': this.definition.name,
      'txkit.saga.id': this.id,
    });
    this.#span = span;
    try {
      const outcome = await span.within(() => this.#drive());
      // Untraced (the common case), no attribute objects are built for nobody.
      if (span !== untraced) {
        span.set({ 'txkit.outcome': outcome.status });
        if (outcome.status !== 'completed')
          span.set({ 'txkit.saga.failed_step': outcome.failedStep, 'txkit.saga.reason': outcome.reason });
      }
      return outcome;
    } catch (error) {
      span.fail(error);
      throw error;
    } finally {
      span.end();
    }
  }

  async #drive(): Promise<SagaOutcome> {
    try {
      if (this.#status === 'running') {
        const outcome = await this.#forward();
        if (outcome) return outcome;
      }
      return await this.#compensate();
    } catch (error) {
      if (error instanceof SagaLeaseLostError) this.#emitSaga('saga:lease-lost');
      throw error;
    } finally {
      // Whatever happened, this runner stops heartbeating the saga (finished, lost, or left to recovery) — once
      // a lazily written end has landed.
      if (!this.#lazyEnd) this.#deps.leases.release(this.lease);
    }
  }

  /**
   * Recovery's way out for a saga claimed too often (it keeps killing or stalling its runners): a running one is
   * sent to compensation (reason `recovery-limit`), a compensating one ends `failed` — bounded and visible.
   */
  async giveUp(claims: number): Promise<SagaOutcome> {
    const error = { name: 'RecoveryLimit', message: `saga claimed ${claims} times by recovery` };
    try {
      if (this.#status === 'running') {
        const index = nextIndex(this);
        // Guarded steps ahead may all have committed, and the caller been told `completed`: compensating could
        // undo an answered outcome, so such a saga is driven on (each pass bounded by the steps' retries).
        if (this.steps.slice(index).some((s) => s.participant)) return await this.drive();
        if (index < this.steps.length) {
          const step = this.steps[index]!.name;
          await this.#beginCompensation({ step, index, reason: 'recovery-limit', error, attempt: 0 });
        }
        return await this.drive();
      }
      const index = compensationPlan(this)[0] ?? nextIndex(this);
      return await this.#fail({ step: this.steps[index]?.name ?? '', index, attempt: 0, error });
    } finally {
      this.#deps.leases.release(this.lease);
    }
  }

  // ---- forward -------------------------------------------------------------------------------------------

  async #forward(): Promise<SagaOutcome | undefined> {
    if (nextIndex(this) >= this.steps.length) return this.#completeResumed();
    for (let index = nextIndex(this); index < this.steps.length; index = nextIndex(this)) {
      const members = groupMembers(this.steps, this.steps[index]!.group);
      const failure =
        members.length === 1
          ? await this.#runStep(index)
          : await this.#runGroup(members.filter((i) => !this.done.has(this.steps[i]!.name)));
      if (failure) {
        await this.#beginCompensation(failure);
        return undefined;
      }
    }
    this.#emitSaga('saga:completed');
    return { status: 'completed', sagaId: this.id, result: { ...this.#outputs } };
  }

  /** One step of a group of its own: run, then record (now, or deferred to the next write). */
  async #runStep(index: number): Promise<ActionFailure | undefined> {
    const step = this.steps[index]!;
    const last = index === this.steps.length - 1;
    const outputs = this.#outputs;
    const end = await this.#attempt(step, 'action', (attempt, signal) => {
      if (step.local) return this.#localAction(step, index, attempt, last);
      if (step.participant) return guardedStepAction(this.#site, step, attempt, signal);
      return remoteAction(this.#site, step, attempt, signal, outputs);
    });
    if (!end.ok) {
      this.#leaveIfUnconfirmed(step, end.error);
      return this.#actionFailed(step, index, end);
    }
    this.#outputs[step.name] = end.value;
    if (step.participant) {
      this.#guardedDone(step, end.attempt);
      if (this.#deps.faults) await this.#fault(byKind.action.record, step.name, end.attempt);
      if (last) this.#endLazily();
      return undefined;
    }
    const record = { step: step.name, attempt: end.attempt, output: end.value };
    const deferred = step.deferRecord && !last;
    if (deferred) this.#deferred.push(record);
    else if (!step.local) await this.#record([...this.#deferred, record], index + 1, last);
    this.done.add(step.name);
    this.#emitStep('step:completed', step.name, end.attempt);
    // A deferred record is not written yet: its fault point is reached when it is (with the next step's).
    if (!deferred && this.#deps.faults) await this.#fault(byKind.action.record, step.name, end.attempt);
    return undefined;
  }

  /**
   * Resumed, a guarded step may be one whose effect and output are committed (and the caller told so): an error
   * reaching its database says nothing about it, so the saga is left to a later pass rather than compensated.
   */
  #leaveIfUnconfirmed(step: StepDefinition, error: unknown): void {
    if (!step.participant || !this.#resumed || error instanceof StepRejectedError) return;
    throw new InDoubtError(`guarded step '${step.name}' of saga ${this.id} unreachable; left to recovery`, {
      cause: error,
      context: { sagaId: this.id, saga: this.definition.name, step: step.name },
    });
  }

  /**
   * A guarded step committed its effect with its record (the barrier row, in its own database): nothing to write
   * to the log, unless it was the last step — then, past its record's fault point, `run()` may answer now, and
   * the saga's end goes to the log through the group commit without being waited for ({@link #endLazily}). A
   * crash before it lands is resumed to the same outcome and outputs: recovery runs the guarded steps again, and
   * the barrier answers each with its stored output.
   */
  #guardedDone(step: StepDefinition, attempt: number): void {
    this.done.add(step.name);
    this.#emitStep('step:completed', step.name, attempt);
  }

  #endLazily(): void {
    this.#lazyEnd = true;
    const write = {
      id: this.id,
      token: this.lease.token,
      records: this.#deferred,
      nextStep: this.steps.length,
      complete: { result: { ...this.#outputs } },
    };
    this.#deferred = [];
    const release = () => this.#deps.leases.release(this.lease);
    // Not fenced any more (another runner claimed the saga meanwhile) is fine: that runner ends it the same way.
    this.#settled = this.#deps.records
      .write(write, { id: this.id, name: this.definition.name }, true)
      .then(release, (error: unknown) => {
        this.#deps.emit('error', error);
        release();
      });
  }

  /**
   * The branches of a parallel group at once. Each one's record waits for the group's single write; a failed
   * branch lets the others end first, so that compensation knows every branch that took effect.
   */
  async #runGroup(members: number[]): Promise<ActionFailure | undefined> {
    const before = Object.freeze({ ...this.#outputs });
    const committed: { step: string; attempt: number }[] = [];
    const settled = await Promise.allSettled(
      members.map(async (index): Promise<ActionFailure | undefined> => {
        const step = this.steps[index]!;
        const end = await this.#attempt(step, 'action', (attempt, signal) =>
          step.participant
            ? guardedStepAction(this.#site, step, attempt, signal)
            : remoteAction(this.#site, step, attempt, signal, before),
        );
        if (!end.ok) {
          this.#leaveIfUnconfirmed(step, end.error);
          return this.#actionFailed(step, index, end);
        }
        this.#outputs[step.name] = end.value;
        // A guarded branch's record is its barrier row, committed with it.
        if (step.participant) committed.push({ step: step.name, attempt: end.attempt });
        else this.#deferred.push({ step: step.name, attempt: end.attempt, output: end.value });
        this.done.add(step.name);
        this.#emitStep('step:completed', step.name, end.attempt);
        return undefined;
      }),
    );
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    const failure = settled.map((s) => (s.status === 'fulfilled' ? s.value : undefined)).find((f) => f);
    if (failure) return failure;
    const after = members.at(-1)! + 1;
    const last = after === this.steps.length;
    const records = this.#deferred;
    for (const c of committed) await this.#fault(byKind.action.record, c.step, c.attempt);
    if (last && records.length === 0) {
      this.#endLazily();
      return undefined;
    }
    if (records.length > 0 || last) await this.#record(records, after, last);
    for (const r of records) await this.#fault(byKind.action.record, r.step, r.attempt);
    return undefined;
  }

  async #localAction(step: StepDefinition, index: number, attempt: number, last: boolean): Promise<unknown> {
    const since = Date.now();
    const result = await inLogTransaction(
      this.#deps.log.pool,
      async (client) => {
        const output = asLogged(
          await runAttempt(
            (signal) =>
              (step.run as (ctx: unknown) => unknown)(
                stepContext(this.#site, step, attempt, signal, { client }),
              ),
            attemptOptions(this.#site, step, 'action', this.lease.controller.signal),
          ),
        );
        // Not committed yet: a crash here rolls back the effect together with its record.
        if (this.#deps.faults) await this.#fault(byKind.action.effect, step.name, attempt);
        const records = [...this.#deferred, { step: step.name, attempt, output }];
        const result = last ? { ...this.#outputs, [step.name]: output } : undefined;
        const [row] = await this.#deps.log.queryOn<FencedWrite>(
          client,
          this.#recordStatement(records, index + 1, result),
        );
        // The saga's own insert rides in the record of its first local step: both commit, or neither exists.
        if (row?.fenced !== 1) throw this.#pendingStart ? this.#keyTaken() : leaseLostError(this.id);
        // No insert: an earlier attempt's COMMIT did go through although it reported an error. Keep that one.
        return row.inserted > 0
          ? { end: 'commit' as const, value: { output, recorded: false } }
          : { end: 'rollback' as const, value: { output, recorded: true } };
      },
      abandonsClient,
      this.#deps.limits,
    ).catch((error) => {
      if (error instanceof SagaLeaseLostError) this.#deps.leases.lost(this.lease);
      throw error;
    });
    this.#deferred = [];
    if (this.#pendingStart) {
      const { key } = this.#pendingStart;
      this.#pendingStart = undefined;
      this.#deps.leases.track(this.lease);
      if (this.#deps.listens('saga:started')) this.#deps.emit('saga:started', { ...this.#base(), key });
    }
    this.#deps.leases.renewed(this.lease, since);
    if (!result.recorded) return result.output;
    const { rows } = await this.#deps.log.query<StepRow>(selectSteps(this.#deps.log.schema, this.id));
    return rows.find((r) => r.step === step.name && r.kind === 'action')?.output ?? null;
  }

  #actionFailed(
    step: StepDefinition,
    index: number,
    end: { error: unknown; attempt: number },
  ): ActionFailure {
    const reason = failureReason(end.error, classifyStepError(end.error));
    const error = serializeError(end.error);
    this.#deps.emit('step:failed', { ...this.#event(step.name, end.attempt), reason, error });
    return { step: step.name, index, reason, error, attempt: end.attempt };
  }

  /**
   * Records finished actions and moves the saga to `nextStep`; with `complete`, ends it `completed`. Once the saga
   * row exists, the write goes through the runner's group commit (one statement for the concurrent sagas).
   */
  async #record(records: ActionRecord[], nextStep: number, complete: boolean): Promise<void> {
    const result = complete ? this.#outputs : undefined;
    if (this.#pendingStart) {
      await this.#fenced(this.#recordStatement(records, nextStep, result), 'start');
    } else {
      const since = Date.now();
      const write = {
        id: this.id,
        token: this.lease.token,
        records,
        nextStep,
        ...(result ? { complete: { result } } : {}),
      };
      this.#checkFence(
        await this.#logWrite(complete ? 'end' : 'records', () =>
          this.#deps.records.write(write, { id: this.id, name: this.definition.name }),
        ),
        since,
      );
    }
    this.#deferred = [];
  }

  #recordStatement(
    records: readonly ActionRecord[],
    nextStep: number,
    result: StepOutputs | undefined,
  ): Statement {
    const common = {
      token: this.lease.token,
      records,
      nextStep,
      leaseMs: this.#deps.log.leaseMs,
      ...(result ? { complete: { result } } : {}),
    };
    const schema = this.#deps.log.schema;
    if (!this.#pendingStart) return recordStep(schema, { id: this.id, ...common });
    return insertSagaWithRecord(schema, {
      id: this.id,
      name: this.definition.name,
      input: this.input,
      ...this.#pendingStart,
      ...common,
    });
  }

  // Every action has a done record but the saga is still running. The last record completes the saga in the same
  // statement, so txkit never leaves this state; finish such a saga (e.g. written by hand) instead of leaving it.
  async #completeResumed(): Promise<SagaOutcome> {
    await this.#record([], this.steps.length, true);
    this.#emitSaga('saga:completed');
    return { status: 'completed', sagaId: this.id, result: { ...this.#outputs } };
  }

  // ---- compensation --------------------------------------------------------------------------------------

  /**
   * Turns the saga to compensation (one fenced write, which also logs the failed action). When there is
   * nothing to compensate (e.g. the first step failed in its own rolled-back transaction), the same write ends
   * the saga `compensated`.
   */
  async #beginCompensation(failure: ActionFailure): Promise<void> {
    // Set before the write: if the write fails this runner stops driving the saga anyway.
    this.#failure = { step: failure.step, reason: failure.reason, error: failure.error };
    if (this.#pendingStart) return this.#endUnwritten(this.#failure);
    // Deferred records first: the steps (and sibling branches) before the failure are done and must be known so.
    if (this.#deferred.length > 0) await this.#record(this.#deferred, failure.index, false);
    const final = compensationPlan(this).length === 0;
    await this.#fenced(
      startCompensation(this.#deps.log.schema, {
        id: this.id,
        token: this.lease.token,
        failedStep: failure.step,
        step: failure.index,
        attempt: failure.attempt,
        reason: failure.reason,
        error: failure.error,
        leaseMs: this.#deps.log.leaseMs,
        final,
      }),
    );
    this.#status = 'compensating';
    this.#finished = final;
    this.#deps.emit('saga:compensating', {
      ...this.#base(),
      failedStep: failure.step,
      reason: failure.reason,
    });
  }

  // The first step (local, carrying the saga's insert) failed and rolled back: the saga was never written and
  // nothing took effect. One insert records the outcome, so that its idempotency key answers it from now on.
  async #endUnwritten(failure: SagaFailure): Promise<void> {
    const { key, owner } = this.#pendingStart!;
    const { rows } = await this.#deps.log.query(
      insertEndedSaga(this.#deps.log.schema, {
        id: this.id,
        name: this.definition.name,
        key,
        input: this.input,
        owner,
        token: this.lease.token,
        failedStep: failure.step,
        reason: failure.reason,
        error: failure.error,
      }),
    );
    if (rows.length === 0) throw this.#keyTaken();
    this.#pendingStart = undefined;
    this.#deps.emit('saga:started', { ...this.#base(), key });
    this.#status = 'compensating';
    this.#finished = true;
    this.#deps.emit('saga:compensating', {
      ...this.#base(),
      failedStep: failure.step,
      reason: failure.reason,
    });
  }

  async #compensate(): Promise<SagaOutcome> {
    const failure = failureOf(this);
    const base = { ...this.#base(), failedStep: failure.step, reason: failure.reason };
    const plan = compensationPlan(this);
    if (plan.length === 0 && !this.#finished) {
      await this.#fenced(endCompensation(this.#deps.log.schema, { id: this.id, token: this.lease.token }));
    }
    for (const [position, index] of plan.entries()) {
      const step = this.steps[index]!;
      const final = position === plan.length - 1;
      const end = await this.#attempt(step, 'compensation', (attempt, signal) => {
        if (step.local) return this.#localCompensation(step, index, attempt, final);
        if (step.participant) return guardedStepCompensation(this.#site, step, attempt, signal);
        return remoteCompensation(this.#site, step, attempt, signal);
      });
      if (!end.ok)
        return this.#fail({ step: step.name, index, attempt: end.attempt, error: serializeError(end.error) });
      if (!step.local) {
        await this.#fenced(this.#compensationRecord(step, index, end.attempt, final), 'compensation');
      }
      this.compensated.add(step.name);
      this.#emitStep('compensation:completed', step.name, end.attempt);
      await this.#fault(byKind.compensation.record, step.name, end.attempt);
    }
    this.#deps.emit('saga:compensated', base);
    return {
      status: 'compensated',
      sagaId: this.id,
      failedStep: failure.step,
      reason: failure.reason,
      error: failure.error,
    };
  }

  /** Ends the saga `failed` (the dead letter): a compensation gave up. */
  async #fail(p: {
    step: string;
    index: number;
    attempt: number;
    error: SagaFailure['error'];
  }): Promise<SagaOutcome> {
    await this.#fenced(failSaga(this.#deps.log.schema, { id: this.id, token: this.lease.token, ...p }));
    const failure = this.#failure ?? { ...failureOf(this), reason: '', error: p.error };
    const compensation = { step: p.step, error: p.error };
    this.#deps.emit('saga:failed', {
      ...this.#base(),
      failedStep: failure.step,
      reason: failure.reason,
      compensation,
    });
    return {
      status: 'failed',
      sagaId: this.id,
      failedStep: failure.step,
      reason: failure.reason,
      error: failure.error,
      compensation,
    };
  }

  async #localCompensation(
    step: StepDefinition,
    index: number,
    attempt: number,
    final: boolean,
  ): Promise<void> {
    const since = Date.now();
    await inLogTransaction(
      this.#deps.log.pool,
      async (client) => {
        await runAttempt(
          (signal) =>
            (step.compensate as (ctx: unknown) => unknown)(
              stepContext(this.#site, step, attempt, signal, { client, compensation: true }),
            ),
          attemptOptions(this.#site, step, 'compensation', this.lease.controller.signal),
        );
        await this.#fault(byKind.compensation.effect, step.name, attempt);
        const [row] = await this.#deps.log.queryOn<FencedWrite>(
          client,
          this.#compensationRecord(step, index, attempt, final),
        );
        if (row?.fenced !== 1) throw leaseLostError(this.id);
        // No insert: an earlier attempt did commit; roll this duplicate back.
        return { end: row.inserted === 1 ? ('commit' as const) : ('rollback' as const), value: undefined };
      },
      abandonsClient,
      this.#deps.limits,
    ).catch((error) => {
      if (error instanceof SagaLeaseLostError) this.#deps.leases.lost(this.lease);
      throw error;
    });
    this.#deps.leases.renewed(this.lease, since);
  }

  #compensationRecord(step: StepDefinition, index: number, attempt: number, final: boolean): Statement {
    return recordCompensation(this.#deps.log.schema, {
      id: this.id,
      token: this.lease.token,
      step: step.name,
      index,
      attempt,
      leaseMs: this.#deps.log.leaseMs,
      final,
    });
  }

  // ---- the one attempt path of actions and compensations ---------------------------------------------------

  /**
   * Runs `once` with retries: an action on retryable errors ({@link classifyStepError}), a compensation on any
   * error but a {@link StepRejectedError} (giving up leaves the saga for an operator, so it must not give up
   * lightly). A crash, a lost lease or an unreachable log stops the runner at once.
   */
  async #attempt(
    step: StepDefinition,
    kind: Kind,
    once: (attempt: number, signal: AbortSignal) => Promise<unknown>,
  ): Promise<AttemptEnd & { attempt: number }> {
    const policy = kind === 'action' ? step.retry : step.compensationRetry;
    for (let attempt = 1; ; attempt++) {
      const renewal = this.#ensureLease();
      if (renewal) await renewal;
      this.#emitStep(byKind[kind].started, step.name, attempt);
      const span = this.#attemptSpan(step, kind, attempt);
      try {
        if (this.#deps.faults) await this.#fault(byKind[kind].before, step.name, attempt);
        const value = await span.within(() => once(attempt, this.lease.controller.signal));
        span.end();
        return { ok: true, value, attempt };
      } catch (error) {
        span.fail(error);
        span.end();
        if (stopsRunner(error)) throw error;
        const retryable =
          kind === 'action'
            ? classifyStepError(error) === 'retryable'
            : !(error instanceof StepRejectedError);
        if (!retryable || attempt >= policy.maxAttempts) return { ok: false, error, attempt };
        const delayMs = backoffDelay(policy, attempt);
        this.#deps.emit(byKind[kind].retrying, {
          ...this.#event(step.name, attempt),
          delayMs,
          error: serializeError(error),
        });
        await sleep(delayMs, this.lease.controller.signal);
      }
    }
  }

  /** The span of one attempt: the step, its attempt number and the database it works in, when txkit knows it. */
  #attemptSpan(step: StepDefinition, kind: Kind, attempt: number): TxkitSpan {
    const pool = step.local ? this.#deps.log.pool : step.participant?.pool;
    return this.#span.child(kind === 'action' ? 'txkit.saga.step' : 'txkit.saga.compensation', () => ({
      'txkit.step': step.name,
      'txkit.step.attempt': attempt,
      'txkit.step.type': step.local ? 'local' : step.participant ? 'guarded' : 'plain',
      ...(pool ? databaseAttributes(pool) : {}),
    }));
  }

  /** A write to the saga log as a span of the saga's trace. */
  #logWrite<R>(what: string, write: () => Promise<R>): Promise<R> {
    return this.#span
      .child('txkit.saga.log', () => ({
        'txkit.saga.log.write': what,
        ...databaseAttributes(this.#deps.log.pool),
      }))
      .around(write);
  }

  /**
   * Makes sure the lease holds before an attempt: `undefined` when it is known to (the common case, checked
   * without a promise), else the renewal to wait for (which throws when the lease is lost).
   */
  #ensureLease(): Promise<void> | undefined {
    // Not written yet: nobody else can see, let alone claim, the saga.
    if (this.#pendingStart && !this.lease.controller.signal.aborted) return undefined;
    if (this.#deps.leases.holds(this.lease)) return undefined;
    return this.#deps.leases.ensure(this.lease);
  }

  /** A fenced log write: matching no saga row means another runner claimed the saga, and this one stops. */
  async #fenced(statement: Statement, what = 'state'): Promise<FencedWrite> {
    const since = Date.now();
    return this.#checkFence(
      await this.#logWrite(what, () =>
        this.#deps.log.fenced(statement, { id: this.id, name: this.definition.name }),
      ),
      since,
    );
  }

  #checkFence(row: FencedWrite, since: number): FencedWrite {
    if (row.fenced !== 1) {
      this.#deps.leases.lost(this.lease);
      throw leaseLostError(this.id);
    }
    this.#deps.leases.renewed(this.lease, since);
    return row;
  }

  #keyTaken(): SagaKeyTakenError {
    return new SagaKeyTakenError(`saga ${this.id} was not started: its key is taken`, {
      context: { sagaId: this.id, saga: this.definition.name },
    });
  }

  /**
   * Reaches a fault point. Without a fault hook (production) it answers a shared, settled promise, not one of its
   * own; the hot paths (several fault points per step) check `deps.faults` first and do not even wait for that.
   */
  #fault(point: SagaFaultPoint, step: string, attempt: number): Promise<void> {
    return this.#deps.faults ? this.#faultHook(this.#deps.faults, point, step, attempt) : noFault;
  }

  async #faultHook(hook: FaultHook, point: SagaFaultPoint, step: string, attempt: number): Promise<void> {
    await hook({ point, id: this.id, step, attempt });
  }

  #base() {
    return { sagaId: this.id, name: this.definition.name };
  }

  /** Emits a step event, its payload built only when someone listens (several of these go out per step). */
  #emitStep(event: PlainStepEvent, step: string, attempt: number): void {
    if (this.#deps.listens(event)) this.#deps.emit(event, this.#event(step, attempt));
  }

  /** Emits a saga event whose payload is the saga's id and name, built only when someone listens. */
  #emitSaga(event: 'saga:completed' | 'saga:lease-lost'): void {
    if (this.#deps.listens(event)) this.#deps.emit(event, this.#base());
  }

  #event(step: string, attempt: number): StepEvent {
    return { ...this.#base(), step, attempt };
  }
}
