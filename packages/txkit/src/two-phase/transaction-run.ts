import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { prepared } from '../db/prepared-statement.js';
import { isConnectionError } from '../db/queryable.js';
import {
  ConfigurationError,
  InDoubtError,
  PrepareFailedError,
  ResponseTimeoutError,
  TransactionAbortedError,
  TransactionTimeoutError,
  TxkitError,
} from '../errors.js';
import { isSimulatedCrash, type TwoPhaseFaultPoint } from '../faults.js';
import { databaseAttributes } from '../tracing/db-attributes.js';
import { type SpanAttributes, startSpan, type TxkitSpan, untraced } from '../tracing/span.js';
import type { BranchSettings } from './branch-sql.js';
import { DecidedAbort, writeCommitDecision } from './commit-decision.js';
import type { ResolvedCoordinatorOptions } from './coordinator-options.js';
import type { TwoPhaseEvents } from './events.js';
import { formatGid, newTransactionId } from './gid.js';
import { type OpenedBranch, ParticipantSession } from './participant-session.js';

/**
 * The handle a transaction callback gets. Each participant enlists on its first statement and keeps one pinned
 * connection until the end.
 *
 * @example
 * await coordinator.transaction(async (tx) => {
 *   await tx.query('payments', 'INSERT INTO payments (id, amount) VALUES ($1, $2)', [id, 10]);
 * });
 */
export interface TwoPhaseTransaction {
  /** The transaction id (part of every gid of this transaction). */
  readonly id: string;
  /** Runs a statement in the named participant's branch. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    participant: string,
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/** What a run needs from its coordinator: the same for every run of a coordinator (made once). */
export interface RunContext {
  options: ResolvedCoordinatorOptions;
  emit<E extends keyof TwoPhaseEvents>(event: E, ...args: Parameters<TwoPhaseEvents[E]>): void;
  /** Whether anyone listens to `event`: a payload nobody receives is not built (they are built per transaction). */
  listens(event: keyof TwoPhaseEvents): boolean;
  /** A prepared branch left to recovery (commit pending, or outcome unknown). */
  inDoubt(gid: string): void;
}

/**
 * One execution of a transaction callback through both phases. Life of a run:
 *
 * 1. the callback runs; participants enlist (BEGIN ...) on first use;
 * 2. read-only participants (nothing written, no lock to keep) are committed and leave the protocol;
 *    then 0 left: done; 1 left: plain COMMIT;
 * 3. ≥ 2 touched: PREPARE all (in parallel) — except the log participant when it carries the decision;
 * 4. the commit decision is made durable (separate insert, or inside the log participant's branch + COMMIT);
 * 5. COMMIT PREPARED on all, in parallel, retried; failures are left to recovery (`commit-pending`).
 *
 * Any failure before step 4 completes aborts everywhere; nothing after it ever rolls back.
 */
export class TransactionRun<T> {
  readonly id = newTransactionId();
  readonly #ctx: RunContext;
  /**
   * The registration of the coordinator's lease in the log (so that its branches can be taken over should it
   * die), started before the callback: awaited before any PREPARE.
   */
  readonly #registration: Promise<void>;
  readonly #settings: BranchSettings;
  readonly #timeoutMs: number;
  readonly #started = performance.now();
  readonly #enlisting = new Map<string, Promise<ParticipantSession>>();
  readonly #sessions: ParticipantSession[] = [];
  /** Participants whose branch wrote nothing and was committed before the others were prepared. */
  readonly #readOnly: string[] = [];
  /** The sessions of {@link #sessions} by participant name. */
  readonly #enlisted = new Map<string, ParticipantSession>();
  /** Enlistments still connecting (see {@link #enlist}). */
  #connecting = 0;
  /** Whether an enlistment failed (its error is in {@link #enlisting}). */
  #enlistFailed = false;
  /** No more enlistments: the callback is over, or the run timed out or crashed. */
  #closed = false;
  /** Timed out, aborting or crashed: a branch that finishes connecting now is destroyed at once. */
  #ending = false;
  #timer: NodeJS.Timeout | undefined;
  /** The run's trace span; each participant's phases are its children (see tracing/). */
  #span: TxkitSpan = untraced;
  /** Per participant, the span of its statements: from its enlistment to the end of the callback. */
  readonly #statementSpans: TxkitSpan[] = [];
  readonly #timedOut: Promise<never>;
  #rejectTimedOut: (error: Error) => void = () => {};

  constructor(
    ctx: RunContext,
    settings: BranchSettings & { timeoutMs: number },
    registration: Promise<void>,
  ) {
    this.#ctx = ctx;
    this.#registration = registration;
    this.#settings = settings;
    this.#timeoutMs = settings.timeoutMs;
    this.#timedOut = new Promise<never>((_, reject) => {
      this.#rejectTimedOut = reject;
    });
    this.#timedOut.catch(() => {});
  }

  /** Runs the callback and the protocol; resolves with the callback's result once committed. */
  async execute(work: (tx: TwoPhaseTransaction) => Promise<T>): Promise<T> {
    const span = startSpan('txkit.2pc.transaction', {
      'txkit.transaction.id': this.id,
      'txkit.coordinator.id': this.#ctx.options.id,
    });
    this.#span = span;
    try {
      const result = await this.#execute(work);
      span.set(() => ({
        'txkit.outcome': 'committed',
        'txkit.participants': this.#participantNames(),
        'txkit.2pc.read_only': this.#readOnly.length > 0 ? this.#readOnly : undefined,
      }));
      return result;
    } catch (error) {
      const outcome = error instanceof InDoubtError ? 'in-doubt' : 'aborted';
      span.set(() => ({ 'txkit.outcome': outcome, 'txkit.participants': this.#participantNames() }));
      span.fail(error);
      throw error;
    } finally {
      span.end();
    }
  }

  async #execute(work: (tx: TwoPhaseTransaction) => Promise<T>): Promise<T> {
    this.#timer = setTimeout(() => this.#onTimeout(), this.#timeoutMs);
    let result: T;
    let carrier: ParticipantSession | undefined;
    try {
      result = await this.#runCallback(work);
      // Nearly always every branch wrote: then there is no check to send, and nothing to await.
      if (this.#sessions.length > 1 && this.#sessions.some((s) => s.mayBeReadOnly)) {
        await this.#endReadOnlyBranches();
      }
      if (this.#sessions.length === 0) {
        this.#disarm();
        if (this.#readOnly.length > 0) this.#emitCommitted(true, []);
        return result;
      }
      if (this.#sessions.length === 1) {
        this.#disarm();
        await this.#commitOnePhase(this.#sessions[0]!);
        return result;
      }
      carrier = this.#sessions.find((s) => s.name === this.#ctx.options.logParticipant);
      // No branch may be prepared by a coordinator the others do not know: its orphans would be nobody's.
      await Promise.race([this.#registration, this.#timedOut]);
      await this.#prepareAll(this.#sessions.filter((s) => s !== carrier));
      // From here the timer must not touch the connections: the decision is about to be written.
      this.#disarm();
      if (performance.now() - this.#started > this.#timeoutMs) throw this.#timeoutError();
      if (this.#faults) await this.#fault('2pc:before-decision');
      await this.#phase(
        'txkit.2pc.decision',
        () => ({ ...databaseAttributes(this.#ctx.options.log), 'txkit.2pc.decision.carrier': carrier?.name }),
        () =>
          writeCommitDecision({
            options: this.#ctx.options,
            transactionId: this.id,
            participants: this.#sessions.map((s) => s.name),
            carrier,
            onLogPool: this.#sessions.find((s) => s.pool === this.#ctx.options.log),
            timeoutError: () => this.#timeoutError(),
          }),
      );
    } catch (error) {
      this.#ending = true;
      this.#disarm();
      if (isSimulatedCrash(error)) throw this.#die(error);
      if (error instanceof InDoubtError) {
        // Outcome unknown: the prepared branches stay for recovery, which follows whatever the log says.
        for (const session of this.#sessions) {
          if (session.state === 'prepared') this.#ctx.inDoubt(session.gid);
          // The log's server may be gone and these connections with it; prepared branches outlive them.
          session.destroy(error);
        }
        throw error;
      }
      await this.#abortAll(error);
      throw this.#abortedError(error);
    }
    // The decision is commit and durable: from here on, only forward. A failure injected here cannot change
    // the outcome, only a crash stops the commit phase (and recovery finishes it).
    try {
      if (this.#faults) await this.#fault('2pc:after-decision');
    } catch (error) {
      if (isSimulatedCrash(error)) throw this.#die(error);
    }
    const prepared = this.#sessions.filter((s) => s !== carrier);
    carrier?.release();
    const pending = await this.#commitAll(prepared);
    this.#emitCommitted(false, pending);
    return result;
  }

  async #runCallback(work: (tx: TwoPhaseTransaction) => Promise<T>): Promise<T> {
    const tx: TwoPhaseTransaction = {
      id: this.id,
      query: (participant, text, values) => {
        const statement = this.#statement(text, values);
        // An enlisted participant's statement goes out at once (no await in between: it runs per statement).
        const session = this.#closed ? undefined : this.#enlisted.get(participant);
        if (session) return session.query(statement);
        if (this.#closed || this.#enlisting.has(participant)) {
          return this.#enlist(participant).then((s) => s.query(statement));
        }
        // The participant's first statement: it travels with the branch's BEGIN where it can.
        return this.#open(participant, statement).then(({ session: opened, first }) => {
          if (!first) return opened.query(statement);
          if ('result' in first) return first.result;
          throw first.error;
        });
      },
    };
    // The callback's own spans (and an instrumented pg's) are children of the transaction's.
    const running = this.#span.within(() => work(tx));
    // The callback may still be running when the timeout wins the race; its late failure is not news.
    running.catch(() => {});
    let result: T;
    try {
      result = await Promise.race([running, this.#timedOut]);
    } finally {
      for (const span of this.#statementSpans) span.end();
    }
    this.#closed = true;
    // Enlistments the callback started but did not await belong to the transaction too: a failed one means
    // that participant's work is missing, so the transaction cannot commit. Usually every one has connected
    // by now and none failed: then there is nothing to wait for or look at.
    if (this.#connecting === 0 && !this.#enlistFailed) return result;
    const enlisted = Promise.allSettled(this.#enlisting.values());
    for (const outcome of await Promise.race([enlisted, this.#timedOut])) {
      if (outcome.status === 'rejected') throw outcome.reason;
    }
    return result;
  }

  /** A callback's statement as it is sent: named (prepared once per connection) when so configured. */
  #statement(text: string, values: unknown[] | undefined): pg.QueryConfig {
    if (this.#ctx.options.preparedStatements && values !== undefined && values.length > 0) {
      return prepared({ text, values });
    }
    return values === undefined ? { text } : { text, values };
  }

  /** The participant's session, enlisting it (BEGIN on a pinned connection) on first use. */
  #enlist(name: string): Promise<ParticipantSession> {
    if (this.#closed) return Promise.reject(this.#finishedError());
    return this.#enlisting.get(name) ?? this.#open(name).then((opened) => opened.session);
  }

  /** Enlists a participant not enlisted yet; `first`, its first statement, may travel with the BEGIN. */
  #open(name: string, first?: pg.QueryConfig): Promise<OpenedBranch> {
    const pool = this.#ctx.options.participants.get(name);
    if (!pool) return Promise.reject(new ConfigurationError(`unknown participant "${name}"`));
    const gid = formatGid({ coordinatorId: this.#ctx.options.id, transactionId: this.id, participant: name });
    if (this.#span !== untraced) {
      this.#statementSpans.push(this.#childSpan('txkit.2pc.statements', name, pool, { 'txkit.gid': gid }));
    }
    this.#connecting++;
    const opening = ParticipantSession.open(name, gid, pool, this.#settings, first).then(
      (opened) => {
        this.#connecting--;
        if (this.#ending) {
          // Timed out or crashed while connecting: the branch is not part of the transaction any more.
          opened.session.destroy();
          this.#enlistFailed = true;
          throw this.#finishedError();
        }
        this.#sessions.push(opened.session);
        this.#enlisted.set(name, opened.session);
        return opened;
      },
      (error: unknown) => {
        this.#connecting--;
        this.#enlistFailed = true;
        throw error;
      },
    );
    const enlisting = opening.then((opened) => opened.session);
    // Its failure reaches the callback through `opening`; this copy is only looked at once the callback is over
    // (see #runCallback), and may never be: it must not count as an unhandled rejection meanwhile.
    enlisting.catch(() => {});
    this.#enlisting.set(name, enlisting);
    return opening;
  }

  /**
   * Read-only participants are not prepared (see `ParticipantSession.endIfReadOnly`): each is committed and left
   * out of the protocol, which then runs on the others — one-phase when a single writer is left.
   */
  async #endReadOnlyBranches(): Promise<void> {
    const ended = await Promise.race([
      Promise.all(this.#sessions.map((s) => s.endIfReadOnly())),
      this.#timedOut,
    ]);
    for (let i = ended.length - 1; i >= 0; i--) {
      if (!ended[i]) continue;
      this.#readOnly.push(this.#sessions[i]!.name);
      this.#sessions.splice(i, 1);
    }
  }

  /** The only participant: a plain local COMMIT, no prepare and no decision record. */
  async #commitOnePhase(session: ParticipantSession): Promise<void> {
    try {
      await this.#sessionPhase('txkit.2pc.commit', session, () => session.commit(), {
        'txkit.2pc.one_phase': true,
      });
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      // The COMMIT may or may not have happened before the connection broke; nobody can tell us now.
      throw new InDoubtError(`the connection to "${session.name}" broke during COMMIT of ${this.id}`, {
        cause: error,
        context: { transactionId: this.id, participant: session.name },
      });
    }
    session.release();
    this.#emitCommitted(true, []);
  }

  async #prepareAll(sessions: ParticipantSession[]): Promise<void> {
    const outcomes = await Promise.allSettled(sessions.map((s) => this.#prepareOne(s)));
    const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    const crash = failures.find(isSimulatedCrash);
    if (crash) throw crash;
    if (failures.length > 0) throw failures[0];
    if (!this.#ctx.listens('prepared')) return;
    this.#ctx.emit('prepared', {
      transactionId: this.id,
      participants: sessions.map((s) => s.name),
      gids: sessions.map((s) => s.gid),
    });
  }

  async #prepareOne(session: ParticipantSession): Promise<void> {
    try {
      if (this.#faults) await this.#fault('2pc:before-prepare', session.name);
      await Promise.race([
        this.#sessionPhase('txkit.2pc.prepare', session, () => session.prepare()),
        this.#timedOut,
      ]);
    } catch (error) {
      if (isSimulatedCrash(error) || error instanceof TxkitError) throw error;
      throw new PrepareFailedError(
        `participant "${session.name}" failed to prepare: ${(error as Error).message}`,
        { cause: error, context: { gid: session.gid, participant: session.name, transactionId: this.id } },
      );
    }
    if (this.#faults) await this.#fault('2pc:after-prepare', session.name);
  }

  /** COMMIT PREPARED everywhere; returns the participants left to recovery. */
  async #commitAll(sessions: ParticipantSession[]): Promise<string[]> {
    const outcomes = await Promise.allSettled(sessions.map((s) => this.#commitOne(s)));
    const crash = outcomes.find((o) => o.status === 'rejected' && isSimulatedCrash(o.reason));
    if (crash?.status === 'rejected') throw this.#die(crash.reason);
    return sessions
      .filter((_, i) => outcomes[i]?.status === 'fulfilled' && !outcomes[i].value)
      .map((s) => s.name);
  }

  /** Resolves true when committed, false when left to recovery (after a `commit-pending` event). */
  async #commitOne(session: ParticipantSession): Promise<boolean> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.#ctx.options.commitAttempts; attempt++) {
      try {
        if (this.#faults) await this.#fault('2pc:before-commit', session.name);
        await (this.#span === untraced
          ? session.commitPrepared()
          : this.#sessionPhase('txkit.2pc.commit-prepared', session, () => session.commitPrepared(), {
              'txkit.2pc.attempt': attempt,
            }));
        if (this.#faults) await this.#fault('2pc:after-commit', session.name);
        session.release();
        return true;
      } catch (error) {
        if (isSimulatedCrash(error)) throw error;
        lastError = error;
        // Busy (another session is finishing it) or a broken connection: worth another try shortly.
        if (attempt < this.#ctx.options.commitAttempts) await sleep(25 * 4 ** (attempt - 1));
      }
    }
    // Never a rollback after a commit decision: the branch stays prepared and recovery commits it.
    session.destroy(lastError);
    this.#ctx.inDoubt(session.gid);
    this.#ctx.emit('commit-pending', {
      transactionId: this.id,
      participant: session.name,
      gid: session.gid,
      error: lastError,
    });
    return false;
  }

  /** Before any commit decision: undo every branch (rollback or rollback prepared), never throwing. */
  async #abortAll(error: unknown): Promise<void> {
    this.#closed = true;
    this.#ending = true;
    // Not waiting for enlistments still connecting (they are destroyed on arrival, see #enlist): a pool wait
    // could otherwise hold this run's other connections, and two runs could wait on each other's pools.
    await Promise.allSettled(
      this.#sessions.map((s) => this.#sessionPhase('txkit.2pc.rollback', s, () => s.rollback())),
    );
    if (!this.#ctx.listens('aborted')) return;
    this.#ctx.emit('aborted', {
      transactionId: this.id,
      participants: this.#sessions.map((s) => s.name),
      error: error instanceof DecidedAbort ? error.cause : error,
    });
  }

  /**
   * What the caller of an aborted run gets: the callback's own error as it is, txkit's typed errors as they are,
   * and otherwise — a lost connection, a session the server ended, a commit decision that could not be
   * confirmed and was fenced to abort — a {@link TransactionAbortedError} with the cause attached.
   */
  #abortedError(error: unknown): unknown {
    const context = { transactionId: this.id };
    if (error instanceof DecidedAbort) {
      // Recovery's fence came first: the run outlived its time limit, and the cause says so.
      if (error.cause instanceof TransactionTimeoutError) return error.cause;
      return new TransactionAbortedError(
        `the commit decision of ${this.id} could not be written (${messageOf(error.cause)}); rolled back everywhere`,
        { cause: error.cause, context },
      );
    }
    // txkit's own typed errors stand as they are (a PrepareFailedError may mention a lost connection too).
    if (error instanceof TxkitError && !(error instanceof ResponseTimeoutError)) return error;
    if (isConnectionError(error)) {
      return new TransactionAbortedError(
        `a participant's connection was lost before the commit decision of ${this.id} (${messageOf(error)}); ` +
          'rolled back everywhere',
        { cause: error, context },
      );
    }
    return error;
  }

  /** A simulated process death: no more SQL, connections destroyed (the server rolls back unprepared work). */
  #die(crash: unknown): unknown {
    this.#closed = true;
    this.#ending = true;
    for (const session of this.#sessions) session.destroy(crash);
    // Branches still connecting die as they arrive (see #enlist).
    return crash;
  }

  /**
   * The time limit before the decision: cancel what runs on the server (a lock wait would otherwise go on after
   * the connection is gone) and destroy those connections, then fail the run, which aborts everywhere.
   */
  #onTimeout(): void {
    this.#timer = undefined;
    this.#closed = true;
    this.#ending = true;
    for (const session of this.#sessions) {
      if (!session.busy) continue;
      const pid = session.backendPid;
      if (pid !== undefined) session.pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => {});
      session.destroy(this.#timeoutError());
    }
    this.#rejectTimedOut(this.#timeoutError());
  }

  /** A span for one participant's phase of this run, ended when `work` settles (failed when it rejects). */
  #sessionPhase<R>(
    name: string,
    session: ParticipantSession,
    work: () => Promise<R>,
    attributes?: SpanAttributes,
  ): Promise<R> {
    // An untraced run's children are untraced too: no span, no attributes to prepare.
    if (this.#span === untraced) return work();
    return this.#childSpan(name, session.name, session.pool, {
      'txkit.gid': session.gid,
      ...attributes,
    }).around(work);
  }

  /** A span for a step of the protocol itself (the decision). */
  #phase<R>(name: string, attributes: () => SpanAttributes, work: () => Promise<R>): Promise<R> {
    if (this.#span === untraced) return work();
    return this.#span.child(name, attributes).around(work);
  }

  #childSpan(name: string, participant: string, pool: pg.Pool, attributes: SpanAttributes): TxkitSpan {
    return this.#span.child(name, () => ({
      'txkit.participant': participant,
      ...databaseAttributes(pool),
      ...attributes,
    }));
  }

  #participantNames(): string[] {
    return [...this.#readOnly, ...this.#sessions.map((s) => s.name)];
  }

  /** A statement or enlistment that came after the callback ended, or after a timeout or crash. */
  #finishedError(): TxkitError {
    return new TxkitError('TRANSACTION_FINISHED', `transaction ${this.id} is finished: no more statements`, {
      context: { transactionId: this.id },
    });
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #timeoutError(): TransactionTimeoutError {
    return new TransactionTimeoutError(
      `transaction ${this.id} did not reach its commit decision within ${this.#timeoutMs} ms`,
      { context: { transactionId: this.id } },
    );
  }

  /** Whether a fault hook is set (tests only): without one, a fault point is not even an await. */
  get #faults(): boolean {
    return this.#ctx.options.faults !== undefined;
  }

  /** Runs the fault hook at `point`. */
  async #fault(point: TwoPhaseFaultPoint, participant?: string): Promise<void> {
    const hook = this.#ctx.options.faults;
    if (hook) await hook({ point, id: this.id, ...(participant === undefined ? {} : { participant }) });
  }

  #emitCommitted(onePhase: boolean, pending: string[]): void {
    if (!this.#ctx.listens('committed')) return;
    this.#ctx.emit('committed', {
      transactionId: this.id,
      participants: this.#participantNames(),
      onePhase,
      pending,
      durationMs: performance.now() - this.#started,
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
