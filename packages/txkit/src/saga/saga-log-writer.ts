import type pg from 'pg';
import { isRetryablePostgresError } from '../db/postgres-errors.js';
import { prepared } from '../db/prepared-statement.js';
import type { Statement } from '../db/queryable.js';
import { SagaLogUnavailableError } from '../errors.js';
import { backoffDelay, type RetryPolicy, sleep } from './retry-policy.js';

/** Result row of a fenced log write: 1 when the lease held, and how many records were new. */
export interface FencedWrite {
  fenced: number;
  inserted: number;
}

/**
 * Every statement a runner sends to its saga log goes through here: it counts them (to measure the log's cost
 * per saga), prepares the hot ones once per connection, and retries a fenced write that failed transiently.
 * It knows nothing of leases or sagas' state; the caller reads the fence off the result.
 */
export class SagaLogWriter {
  readonly pool: pg.Pool;
  /** The quoted schema of the log tables. */
  readonly schema: string;
  readonly leaseMs: number;
  readonly #retry: RetryPolicy;
  readonly #prepare: (statement: Statement) => Statement;
  #statements = 0;

  constructor(options: {
    pool: pg.Pool;
    schema: string;
    leaseMs: number;
    retry: RetryPolicy;
    preparedStatements: boolean;
  }) {
    this.pool = options.pool;
    this.schema = options.schema;
    this.leaseMs = options.leaseMs;
    this.#retry = options.retry;
    this.#prepare = options.preparedStatements ? prepared : (statement) => statement;
  }

  /** Statements sent so far. */
  get statementCount(): number {
    return this.#statements;
  }

  /** Retries of a transient failure (also used by the runner's start insert). */
  get retry(): RetryPolicy {
    return this.#retry;
  }

  /** Sends one statement once (no retry), counted; `hot` ones are prepared once per connection. */
  query<R extends pg.QueryResultRow>(statement: Statement, hot = false): Promise<pg.QueryResult<R>> {
    this.#statements++;
    return this.pool.query<R>(hot ? this.#prepare(statement) : statement);
  }

  /** Sends one statement on a client (a local step's transaction), counted and prepared. */
  async queryOn<R extends pg.QueryResultRow>(client: pg.PoolClient, statement: Statement): Promise<R[]> {
    this.#statements++;
    return (await client.query<R>(this.#prepare(statement))).rows;
  }

  /**
   * Sends a fenced write (see saga-log.ts), retrying transient failures; returns its result row (`fenced` 0:
   * the lease is lost). A log that stays unreachable ends in {@link SagaLogUnavailableError}: the saga's lease
   * then runs out and recovery drives it on.
   */
  async fenced(statement: Statement, saga: { id: string; name: string }): Promise<FencedWrite> {
    const rows = await this.fencedMany<FencedWrite>(statement, [saga]);
    return rows[0] ?? { fenced: 0, inserted: 0 };
  }

  /** {@link fenced} for a statement that writes for several sagas at once; returns its rows. */
  async fencedMany<R extends pg.QueryResultRow>(
    statement: Statement,
    sagas: readonly { id: string; name: string }[],
  ): Promise<R[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.query<R>(statement, true)).rows;
      } catch (error) {
        if (!isRetryablePostgresError(error) || attempt >= this.#retry.maxAttempts) {
          const ids = sagas.map((s) => s.id).join(', ');
          throw new SagaLogUnavailableError(`saga log write failed; saga ${ids} is left to recovery`, {
            cause: error,
            context: sagas.length === 1 ? { sagaId: sagas[0]?.id, saga: sagas[0]?.name } : { sagaIds: ids },
          });
        }
        await sleep(backoffDelay(this.#retry, attempt));
      }
    }
  }
}
