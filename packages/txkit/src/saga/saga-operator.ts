import { TxkitError } from '../errors.js';
import { type SagaHistory, sagaHistoryOf } from './saga-history.js';
import {
  countFailed,
  deleteFinished,
  reopenFailed,
  type SagaRow,
  type SerializedError,
  type StepHistoryRow,
  selectFailed,
  selectSaga,
  selectSagaByKey,
  selectStepHistory,
} from './saga-log.js';
import type { SagaLogWriter } from './saga-log-writer.js';
import type { AnySagaDefinition } from './saga-types.js';

/**
 * A saga in the dead-letter state, as {@link SagaRunner.stuck} lists it.
 *
 * @example
 * const [first]: StuckSaga[] = await runner.stuck(1);
 */
export interface StuckSaga {
  sagaId: string;
  name: string;
  key: string | null;
  input: unknown;
  failedStep: string | null;
  reason: string | null;
  error: SerializedError | null;
  compensation: { step: string | null; error: SerializedError | null };
  updatedAt: Date;
}

/**
 * The operator's side of a saga log — what a person (or a tool) asks of it and does to it, as opposed to
 * running sagas: the dead letters, a saga's history, re-opening a failed saga, deleting old ones. Reads and
 * writes go through the runner's log writer, so they are counted with its statements.
 */
export class SagaOperator {
  readonly #log: SagaLogWriter;
  readonly #definitions: ReadonlyMap<string, AnySagaDefinition>;
  #stuckCount = 0;

  constructor(log: SagaLogWriter, definitions: ReadonlyMap<string, AnySagaDefinition>) {
    this.#log = log;
    this.#definitions = definitions;
  }

  /** Sagas in the dead-letter state, as last counted. */
  get stuckCount(): number {
    return this.#stuckCount;
  }

  /** One saga row by id, or undefined. */
  async saga(sagaId: string): Promise<SagaRow | undefined> {
    return this.#one(selectSaga(this.#log.schema, sagaId));
  }

  /** One saga row by name and idempotency key, or undefined. */
  async sagaByKey(name: string, key: string): Promise<SagaRow | undefined> {
    return this.#one(selectSagaByKey(this.#log.schema, name, key));
  }

  /** What the log knows about a saga, by id or by name and key. */
  async history(saga: string | { name: string; key: string }): Promise<SagaHistory | undefined> {
    const row = typeof saga === 'string' ? await this.saga(saga) : await this.sagaByKey(saga.name, saga.key);
    if (!row) return undefined;
    const { rows } = await this.#log.query<StepHistoryRow>(selectStepHistory(this.#log.schema, row.id));
    return sagaHistoryOf(row, rows, this.#definitions.get(row.name));
  }

  /** Sagas whose compensation gave up, oldest first; refreshes the stuck count. */
  async stuck(limit: number): Promise<StuckSaga[]> {
    const { rows } = await this.#log.query<SagaRow>(selectFailed(this.#log.schema, limit));
    await this.refreshStuckCount();
    return rows.map((row) => ({
      sagaId: row.id,
      name: row.name,
      key: row.key,
      input: row.input,
      failedStep: row.failed_step,
      reason: row.reason,
      error: row.error,
      compensation: { step: row.failed_compensation, error: row.compensation_error },
      updatedAt: row.updated_at,
    }));
  }

  /** Re-opens a failed saga for another round of compensation, claimed by `owner` with `token`. */
  async reopen(sagaId: string, owner: string, token: string): Promise<SagaRow> {
    const row = await this.#one(
      reopenFailed(this.#log.schema, { id: sagaId, owner, token, leaseMs: this.#log.leaseMs }),
    );
    if (!row) throw new TxkitError('SAGA_NOT_FOUND', `no failed saga ${sagaId}`, { context: { sagaId } });
    return row;
  }

  /** Deletes finished sagas older than the retention, in batches; returns how many. */
  async cleanup(olderThanMs: number, batchSize: number): Promise<number> {
    let deleted = 0;
    for (;;) {
      const { rowCount } = await this.#log.query(deleteFinished(this.#log.schema, olderThanMs, batchSize));
      deleted += rowCount ?? 0;
      if ((rowCount ?? 0) < batchSize) return deleted;
    }
  }

  /** Counts the sagas in the dead-letter state again. */
  async refreshStuckCount(): Promise<void> {
    const { rows } = await this.#log.query<{ n: number }>(countFailed(this.#log.schema));
    this.#stuckCount = rows[0]?.n ?? 0;
  }

  async #one(statement: Parameters<SagaLogWriter['query']>[0]): Promise<SagaRow | undefined> {
    const { rows } = await this.#log.query<SagaRow>(statement);
    return rows[0];
  }
}
