import type { SerializedError } from './saga-log.js';

/**
 * Fields of every saga event.
 *
 * @example
 * runner.on('saga:completed', ({ sagaId, name }) => metrics.sagas.inc({ name, status: 'completed' }));
 */
export interface SagaEventBase {
  sagaId: string;
  name: string;
}

/**
 * Fields of step and compensation events.
 *
 * @example
 * runner.on('step:retrying', ({ step, attempt, delayMs }) => log.warn({ step, attempt, delayMs }, 'retrying'));
 */
export interface StepEvent extends SagaEventBase {
  step: string;
  attempt: number;
}

/**
 * Events of a {@link SagaRunner}, one per state change. Hang metrics, logs or traces on them.
 *
 * @example
 * runner.on('saga:failed', (e) => alert(`saga ${e.sagaId} stuck at ${e.compensation.step}: ${e.compensation.error.message}`));
 */
export interface SagaRunnerEvents {
  /** A saga was logged and starts its first step. */
  'saga:started': [SagaEventBase & { key: string | null }];
  /** Recovery (or an operator retry) took over a saga and drives it on. */
  'saga:resumed': [SagaEventBase & { status: 'running' | 'compensating'; claims: number }];
  'step:started': [StepEvent];
  'step:completed': [StepEvent];
  /** An attempt failed with a retryable error; the next one starts after `delayMs`. */
  'step:retrying': [StepEvent & { delayMs: number; error: SerializedError }];
  /** The action failed for good (rejected, not retryable, or retries exhausted). */
  'step:failed': [StepEvent & { reason: string; error: SerializedError }];
  /** The saga turned to compensation. */
  'saga:compensating': [SagaEventBase & { failedStep: string; reason: string }];
  'compensation:started': [StepEvent];
  'compensation:completed': [StepEvent];
  'compensation:retrying': [StepEvent & { delayMs: number; error: SerializedError }];
  'saga:completed': [SagaEventBase];
  'saga:compensated': [SagaEventBase & { failedStep: string; reason: string }];
  /** A compensation gave up: the saga is in the dead-letter state (see `runner.stuck()`). */
  'saga:failed': [
    SagaEventBase & {
      failedStep: string;
      reason: string;
      compensation: { step: string; error: SerializedError };
    },
  ];
  /** This runner lost its lease on a saga (another runner drives it now); it stopped driving it. */
  'saga:lease-lost': [SagaEventBase];
  /** A background pass (recovery, cleanup) or a heartbeat failed. */
  error: [unknown];
}
