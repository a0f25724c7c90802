import { isRetryablePostgresError } from '../db/postgres-errors.js';
import { RetryableError, StepRejectedError, StepTimeoutError } from '../errors.js';
import { isSimulatedCrash } from '../faults.js';

/**
 * How often and how fast a step (or a compensation) is retried: exponential backoff with jitter, finite.
 *
 * @example
 * saga<Input>('s').step('charge', { run, retry: { maxAttempts: 5, initialDelayMs: 20 } });
 */
export interface RetryPolicy {
  /** Attempts in total, the first one included (at least 1). */
  maxAttempts: number;
  /** Delay before the second attempt. */
  initialDelayMs: number;
  /** Upper bound of any delay. */
  maxDelayMs: number;
  /** Growth of the delay per attempt. */
  backoffFactor: number;
}

/**
 * Defaults for a step's action: a few quick retries.
 *
 * @example
 * .step('charge', { run, retry: { maxAttempts: 5 } }) // the other fields from here
 */
export const defaultStepRetry: RetryPolicy = {
  maxAttempts: 3,
  initialDelayMs: 50,
  maxDelayMs: 5_000,
  backoffFactor: 2,
};

/**
 * Defaults for a compensation: more patient, because giving up leaves a saga `failed` for an operator.
 *
 * @example
 * .step('charge', { run, compensate, compensationRetry: { maxDelayMs: 60_000 } }) // the others from here
 */
export const defaultCompensationRetry: RetryPolicy = {
  maxAttempts: 6,
  initialDelayMs: 100,
  maxDelayMs: 10_000,
  backoffFactor: 2,
};

/** Fills a partial policy from defaults and checks it. */
export function resolveRetryPolicy(partial: Partial<RetryPolicy> | undefined, defaults: RetryPolicy) {
  const policy = { ...defaults, ...partial };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    throw new RangeError(`retry.maxAttempts must be an integer >= 1, got ${policy.maxAttempts}`);
  }
  return Object.freeze(policy);
}

/**
 * The delay before attempt `attempt + 1`: exponential, capped, with "equal jitter" (half fixed, half random)
 * so that sagas failing together do not retry in lockstep.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.backoffFactor ** (attempt - 1));
  return Math.round(base / 2 + (Math.random() * base) / 2);
}

/** How the runner treats an error thrown by a step's action. */
export type StepErrorKind = 'crash' | 'retryable' | 'rejected' | 'error';

/**
 * Classifies a step error: a simulated crash ends the process; transient failures (typed, a timeout, a
 * retryable Postgres code, connection loss) are retried; a {@link StepRejectedError} is a business failure;
 * anything else is a bug or an unknown failure, not retried, and compensated like a rejection.
 */
export function classifyStepError(error: unknown): StepErrorKind {
  if (isSimulatedCrash(error)) return 'crash';
  if (error instanceof StepRejectedError) return 'rejected';
  if (error instanceof RetryableError || error instanceof StepTimeoutError) return 'retryable';
  if (isRetryablePostgresError(error)) return 'retryable';
  return 'error';
}

/** The stable reason recorded for a forward failure. */
export function failureReason(error: unknown, kind: StepErrorKind): string {
  if (error instanceof StepRejectedError) return error.reason;
  if (kind === 'retryable') return 'retries-exhausted';
  return 'step-error';
}

/** Sleeps, waking early when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
