import type { SagaRow, SerializedError } from './saga-log.js';
import type { StepOutputs } from './saga-types.js';

/**
 * The end of a saga, as {@link SagaRunner.run} returns it. Match on `status`:
 * - `completed`: every step ran; `result` holds each step's output by step name;
 * - `compensated`: `failedStep` failed for `reason` (a {@link StepRejectedError}'s reason, `retries-exhausted`
 *   or `step-error`), and every step that may have taken effect was compensated;
 * - `failed`: a compensation gave up (`compensation.step`, `compensation.error`); the saga is in the
 *   dead-letter state and listed by {@link SagaRunner.stuck}.
 *
 * @example
 * const outcome = await runner.run(bookSeats, input, { key });
 * if (outcome.status === 'compensated' && outcome.reason === 'payment-declined') showDeclined();
 */
export type SagaOutcome<Outputs extends StepOutputs = StepOutputs> =
  | { status: 'completed'; sagaId: string; result: Outputs }
  | { status: 'compensated'; sagaId: string; failedStep: string; reason: string; error: SerializedError }
  | {
      status: 'failed';
      sagaId: string;
      failedStep: string;
      reason: string;
      error: SerializedError;
      compensation: { step: string; error: SerializedError };
    };

/** Turns an error into its JSON form for the log and for outcomes. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const e = error as Error & { code?: unknown; reason?: unknown };
    return {
      name: e.name,
      message: e.message,
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
      ...(typeof e.reason === 'string' ? { reason: e.reason } : {}),
    };
  }
  return { name: 'Error', message: String(error) };
}

/** A value as it comes back from the log (JSON), so a fresh run and a resumed one see the same outputs. */
export function asLogged(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

const unknownError: SerializedError = { name: 'Error', message: 'unknown' };

/** The outcome of a finished saga row, or undefined while it is still running or compensating. */
export function outcomeFromRow<Outputs extends StepOutputs>(row: SagaRow): SagaOutcome<Outputs> | undefined {
  switch (row.status) {
    case 'completed':
      return { status: 'completed', sagaId: row.id, result: row.result as Outputs };
    case 'compensated':
      return {
        status: 'compensated',
        sagaId: row.id,
        failedStep: row.failed_step ?? '',
        reason: row.reason ?? '',
        error: row.error ?? unknownError,
      };
    case 'failed':
      return {
        status: 'failed',
        sagaId: row.id,
        failedStep: row.failed_step ?? '',
        reason: row.reason ?? '',
        error: row.error ?? unknownError,
        compensation: {
          step: row.failed_compensation ?? '',
          error: row.compensation_error ?? unknownError,
        },
      };
    default:
      return undefined;
  }
}
