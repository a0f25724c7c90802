/**
 * Typed errors. Every error txkit throws is a {@link TxkitError} with a stable `code` to match on, the
 * underlying `cause`, and context (gid, participant, saga id, step) for logs.
 */

/**
 * What a txkit error was about. All fields optional; filled where known.
 *
 * @example
 * if (error instanceof TxkitError) log.warn({ gid: error.context.gid, step: error.context.step }, error.message);
 */
export interface TxkitErrorContext {
  gid?: string;
  transactionId?: string;
  participant?: string;
  sagaId?: string;
  saga?: string;
  step?: string;
  [key: string]: unknown;
}

/**
 * Stable codes of {@link TxkitError}.
 *
 * @example
 * const retryLater = (code: TxkitErrorCode) => code === 'PREPARE_FAILED' || code === 'RETRYABLE';
 */
export type TxkitErrorCode =
  | 'CONFIGURATION'
  | 'PREPARE_FAILED'
  | 'IN_DOUBT'
  | 'TRANSACTION_TIMEOUT'
  | 'RETRYABLE'
  | 'STEP_TIMEOUT'
  | 'STEP_REJECTED'
  | 'SAGA_NOT_FOUND'
  | 'ROLLED_BACK'
  | 'TRANSPORT'
  | 'TRANSACTION_ABORTED'
  | 'RESPONSE_TIMEOUT'
  | 'SAGA_LEASE_LOST'
  | 'SAGA_KEY_TAKEN'
  | 'SAGA_LOG_UNAVAILABLE'
  | 'TRANSACTION_FINISHED';

/**
 * The PostgreSQL error behind a txkit error, as the server reported it (the fields node-postgres exposes that
 * code usually matches on).
 *
 * @example
 * if (error instanceof TxkitError && error.postgres?.constraint === 'seats_pkey') answerSeatTaken();
 */
export interface PostgresErrorFields {
  /** SQLSTATE, e.g. `23505`. */
  code: string;
  constraint?: string | undefined;
  table?: string | undefined;
  column?: string | undefined;
  schema?: string | undefined;
  detail?: string | undefined;
}

/** Marks txkit's errors across copies of the package (ESM and CommonJS builds, two installed versions). */
const TXKIT_ERROR = Symbol.for('txkit.error');

/**
 * Whether `value` is a txkit error — also one thrown by another copy of txkit (its ESM and CommonJS builds, or two
 * installed versions), where `instanceof TxkitError` is false.
 *
 * @example
 * catch (error) { if (isTxkitError(error) && error.code === 'IN_DOUBT') leaveToRecovery(); }
 */
export function isTxkitError(value: unknown): value is TxkitError {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TXKIT_ERROR] === true
  );
}

/**
 * Base class of every txkit error.
 *
 * @example
 * try { await coordinator.transaction(work); }
 * catch (error) { if (error instanceof TxkitError && error.code === 'PREPARE_FAILED') retryLater(); }
 */
export class TxkitError extends Error {
  readonly code: TxkitErrorCode;
  readonly context: TxkitErrorContext;

  constructor(
    code: TxkitErrorCode,
    message: string,
    options: { cause?: unknown; context?: TxkitErrorContext } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.context = options.context ?? {};
    Object.defineProperty(this, TXKIT_ERROR, { value: true });
  }

  /**
   * The PostgreSQL error this one wraps (anywhere down its `cause` chain), or `undefined` when no server error
   * is behind it.
   */
  get postgres(): PostgresErrorFields | undefined {
    return postgresFieldsIn(this.cause, new Set());
  }
}

/** The first PostgreSQL server error in `error`, its `cause` chain and (for an AggregateError) its errors. */
function postgresFieldsIn(error: unknown, seen: Set<unknown>): PostgresErrorFields | undefined {
  if (typeof error !== 'object' || error === null || seen.has(error)) return undefined;
  seen.add(error);
  const e = error as Partial<PostgresErrorFields> & { severity?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && typeof e.severity === 'string') {
    return {
      code: e.code,
      constraint: e.constraint,
      table: e.table,
      column: e.column,
      schema: e.schema,
      detail: e.detail,
    };
  }
  const inner = error instanceof AggregateError ? (error.errors as unknown[]) : [];
  for (const candidate of [e.cause, ...inner]) {
    const found = postgresFieldsIn(candidate, seen);
    if (found) return found;
  }
  return undefined;
}

/**
 * Wrong setup: a missing option, an invalid id, a server without prepared transactions.
 *
 * @example
 * new ConfigurationError('max_prepared_transactions is 0 on participant "seats"');
 */
export class ConfigurationError extends TxkitError {
  constructor(message: string, options: { cause?: unknown; context?: TxkitErrorContext } = {}) {
    super('CONFIGURATION', message, options);
  }
}

/**
 * A participant failed to prepare; the transaction was rolled back everywhere. `cause` holds the database error.
 *
 * @example
 * if (error instanceof PrepareFailedError) console.warn(error.context.participant, error.cause);
 */
export class PrepareFailedError extends TxkitError {
  constructor(message: string, options: { cause?: unknown; context?: TxkitErrorContext } = {}) {
    super('PREPARE_FAILED', message, options);
  }
}

/**
 * The outcome of a transaction could not be established (for example the decision log could not be written or
 * read); recovery will settle it. The caller must not assume either outcome.
 *
 * @example
 * if (error instanceof InDoubtError) log.warn({ gid: error.context.transactionId }, 'left to recovery');
 */
export class InDoubtError extends TxkitError {
  constructor(
    message: string,
    options: { cause?: unknown; context?: TxkitErrorContext } = {},
    /** @internal the saga's in-doubt subclasses give their own code */
    code: TxkitErrorCode = 'IN_DOUBT',
  ) {
    super(code, message, options);
  }
}

/**
 * A saga runner stopped driving a saga because another runner claimed it (this runner's lease ran out, e.g.
 * under load): the other runner drives it on. An {@link InDoubtError} for the caller of the step that noticed;
 * `runner.run()` itself waits for the new owner's outcome instead of throwing it.
 *
 * @example
 * runner.on('error', (e) => { if (e instanceof SagaLeaseLostError) metrics.leaseLost.inc(); });
 */
export class SagaLeaseLostError extends InDoubtError {
  constructor(message: string, options: { cause?: unknown; context?: TxkitErrorContext } = {}) {
    super(message, options, 'SAGA_LEASE_LOST');
  }
}

/**
 * A saga was not started because its idempotency key is taken by another saga (whose outcome is the answer;
 * `runner.run()` returns it). Seen only by code that drives sagas below `run()`.
 *
 * @example
 * if (error instanceof SagaKeyTakenError) return runner.outcome(error.context.sagaId as string);
 */
export class SagaKeyTakenError extends InDoubtError {
  constructor(message: string, options: { cause?: unknown; context?: TxkitErrorContext } = {}) {
    super(message, options, 'SAGA_KEY_TAKEN');
  }
}

/**
 * The saga log could not be written (after the runner's log retries): this runner stopped driving the saga,
 * whose outcome is unknown to the caller. Its lease runs out and recovery, here or in another runner, drives
 * it on. `cause` is the last database error.
 *
 * @example
 * try { await runner.run(bookSeats, input, { key }); }
 * catch (e) { if (e instanceof SagaLogUnavailableError) return reply(202, { retryWith: key }); throw e; }
 */
export class SagaLogUnavailableError extends InDoubtError {
  constructor(message: string, options: { cause?: unknown; context?: TxkitErrorContext } = {}) {
    super(message, options, 'SAGA_LOG_UNAVAILABLE');
  }
}

/**
 * A transaction exceeded its time limit before the decision and was rolled back.
 *
 * @example
 * await coordinator.transaction(work, { timeoutMs: 2_000 }).catch((e) => e instanceof TransactionTimeoutError);
 */
export class TransactionTimeoutError extends TxkitError {
  constructor(message: string, options: { cause?: unknown; context?: TxkitErrorContext } = {}) {
    super('TRANSACTION_TIMEOUT', message, options);
  }
}

/**
 * A transaction was rolled back everywhere, not by the callback's own error but because a participant's
 * connection was lost or its session ended (a network fault, the server's `idle_in_transaction_session_timeout`,
 * a server restart), or because its commit decision could not be confirmed and the fence then decided abort.
 * Nothing was committed; running it again is safe. `cause` is the underlying error.
 *
 * @example
 * try { await coordinator.transaction(work); }
 * catch (e) { if (e instanceof TransactionAbortedError) await coordinator.transaction(work); else throw e; }
 */
export class TransactionAbortedError extends TxkitError {
  constructor(message: string, options: { cause?: unknown; context?: TxkitErrorContext } = {}) {
    super('TRANSACTION_ABORTED', message, options);
  }
}

/**
 * A database server did not answer one of txkit's round trips within `responseTimeoutMs` (a connection lost
 * without a reset: the network dropped it, the server is frozen). The connection is destroyed; txkit then treats
 * it as a lost connection (retried, fenced, or in doubt, per protocol step).
 *
 * @example
 * coordinator.on('error', (e) => { if (e instanceof ResponseTimeoutError) metrics.silentServers.inc(); });
 */
export class ResponseTimeoutError extends TxkitError {
  constructor(message: string, options: { cause?: unknown; context?: TxkitErrorContext } = {}) {
    super('RESPONSE_TIMEOUT', message, options);
  }
}

/**
 * Thrown by a saga step for a transient failure: the runner retries the step with backoff.
 *
 * @example
 * if (response.status === 503) throw new RetryableError('payment service unavailable');
 */
export class RetryableError extends TxkitError {
  constructor(message: string, options: { cause?: unknown; context?: TxkitErrorContext } = {}) {
    super('RETRYABLE', message, options);
  }
}

/**
 * A saga step did not finish within its `timeoutMs`; treated as retryable.
 *
 * @example
 * if (error instanceof StepTimeoutError) metrics.stepTimeouts.inc({ step: error.context.step });
 */
export class StepTimeoutError extends TxkitError {
  constructor(message: string, options: { cause?: unknown; context?: TxkitErrorContext } = {}) {
    super('STEP_TIMEOUT', message, options);
  }
}

/**
 * A business failure thrown by a saga step (payment declined, seat taken): not retried, compensation starts
 * at once. `reason` is a stable, machine-readable string for callers.
 *
 * @example
 * if (balance < amount) throw new StepRejectedError('payment-declined', 'insufficient funds');
 */
export class StepRejectedError extends TxkitError {
  readonly reason: string;

  constructor(
    reason: string,
    message = reason,
    options: { cause?: unknown; context?: TxkitErrorContext } = {},
  ) {
    super('STEP_REJECTED', message, options);
    this.reason = reason;
  }
}

/**
 * A message transport (RabbitMQ) failed to deliver or confirm.
 *
 * @example
 * if (error instanceof TransportError) await transport.reconnect();
 */
export class TransportError extends TxkitError {
  constructor(message: string, options: { cause?: unknown; context?: TxkitErrorContext } = {}) {
    super('TRANSPORT', message, options);
  }
}
