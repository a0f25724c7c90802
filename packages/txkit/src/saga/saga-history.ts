import type { SagaRow, SagaStatus, SerializedError, StepHistoryRow } from './saga-log.js';
import type { AnySagaDefinition } from './saga-types.js';

/**
 * One record of a saga's log: an action or a compensation that finished (`done`) or gave up (`failed`), when the
 * log recorded it. Records that were written together (a `deferRecord` step's with the next one's) share a time.
 *
 * @example
 * for (const r of history.records) console.log(r.at.toISOString(), r.kind, r.step, r.status, r.error?.message);
 */
export interface SagaHistoryRecord {
  readonly step: string;
  readonly kind: 'action' | 'compensation';
  readonly status: 'done' | 'failed';
  readonly attempt: number;
  readonly at: Date;
  readonly error: SerializedError | null;
}

/**
 * What the saga log knows about one saga, readable from any process (unlike the runner's events, which only the
 * process driving the saga sees): its status, why it compensated or failed, and every step record in order.
 *
 * @example
 * const history = await runner.history({ name: 'book-seats', key: bookingId });
 * if (history?.status === 'compensated') console.log(history.failedStep, history.reason);
 */
export interface SagaHistory {
  readonly sagaId: string;
  readonly name: string;
  readonly key: string | null;
  readonly status: SagaStatus;
  /** The runner that drives (or last drove) the saga. */
  readonly owner: string;
  /** The action that failed and sent the saga into compensation, and the reason, if it did. */
  readonly failedStep: string | null;
  readonly reason: string | null;
  readonly error: SerializedError | null;
  /** The compensation that gave up (status `failed`), and its error. */
  readonly failedCompensation: { step: string | null; error: SerializedError | null } | null;
  readonly startedAt: Date;
  readonly updatedAt: Date;
  readonly finishedAt: Date | null;
  readonly records: readonly SagaHistoryRecord[];
}

/**
 * Builds a saga's history from its row and step records. Records written at the same time are put in the order
 * the saga ran them (actions forward, compensations backward) when the saga's definition is known.
 */
export function sagaHistoryOf(
  row: SagaRow,
  steps: readonly StepHistoryRow[],
  definition: AnySagaDefinition | undefined,
): SagaHistory {
  const position = (r: StepHistoryRow) => {
    const index = definition?.steps.findIndex((s) => s.name === r.step) ?? -1;
    return r.kind === 'action' ? index : 2 * (definition?.steps.length ?? 0) - index;
  };
  const records = [...steps]
    .sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || position(a) - position(b))
    .map((r) => ({
      step: r.step,
      kind: r.kind,
      status: r.status,
      attempt: r.attempt,
      at: r.created_at,
      error: r.error,
    }));
  return {
    sagaId: row.id,
    name: row.name,
    key: row.key,
    status: row.status,
    owner: row.owner,
    failedStep: row.failed_step,
    reason: row.reason,
    error: row.error,
    failedCompensation:
      row.status === 'failed' ? { step: row.failed_compensation, error: row.compensation_error } : null,
    startedAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
    records,
  };
}
