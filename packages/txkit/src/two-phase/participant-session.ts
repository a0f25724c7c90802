import type pg from 'pg';
import {
  beginWithStatement,
  canTellTransactionStatus,
  firstStatementResult,
} from '../db/begin-with-statement.js';
import { isConnectionError } from '../db/queryable.js';
import { TxkitError } from '../errors.js';
import { type BranchSettings, beginSql, prepareSql, readOnlyCheckSql } from './branch-sql.js';
import { finishPrepared } from './finish-prepared.js';

/**
 * Where a branch is: `active` (BEGIN done, statements may run), `preparing` (PREPARE sent, reply not yet in),
 * `prepared`, `ended` (committed or rolled back, nothing left on the server), or `unknown` (the connection broke
 * while PREPARE was in flight: it may or may not have landed; recovery settles it).
 */
export type BranchState = 'active' | 'preparing' | 'prepared' | 'ended' | 'unknown';

/**
 * One participant's branch of a transaction over one pinned connection. The client is given back to the pool
 * exactly once, destroyed (`release(err)`) when the connection is broken or its state is unknown.
 */
export class ParticipantSession {
  readonly name: string;
  readonly gid: string;
  readonly pool: pg.Pool;
  #client: pg.PoolClient | undefined;
  #state: BranchState = 'active';
  #busy = 0;
  /** Every statement of the branch answered SELECT so far: it may have written nothing (see endIfReadOnly). */
  #onlyReads = true;

  private constructor(name: string, gid: string, pool: pg.Pool, client: pg.PoolClient) {
    this.name = name;
    this.gid = gid;
    this.pool = pool;
    this.#client = client;
    client.on('error', ignoreClientError);
  }

  /**
   * Borrows a connection and begins the branch (BEGIN and its limits in one round trip), before any statement
   * of the branch is sent. With `first`, the branch's first statement travels in the same string where it can
   * (see {@link beginWithStatement}): one round trip less, and still never a statement without its BEGIN.
   * Never pipelined as a separate message: a BEGIN that fails as a whole (a cancel, a server shutting down,
   * anything that rejects it before it runs) opens no transaction block, and a statement sent right behind it
   * would then run — and commit — on its own.
   */
  static async open(
    name: string,
    gid: string,
    pool: pg.Pool,
    settings: BranchSettings,
    first?: pg.QueryConfig,
  ): Promise<OpenedBranch> {
    const client = await pool.connect();
    const session = new ParticipantSession(name, gid, pool, client);
    const together =
      first && canTellTransactionStatus(client) ? beginWithStatement(beginSql(settings), first) : undefined;
    try {
      if (together === undefined) {
        await session.#run(beginSql(settings));
        return { session };
      }
      return { session, first: await session.#beginWith(together, client) };
    } catch (error) {
      session.destroy(error);
      throw error;
    }
  }

  /**
   * Sends BEGIN and the first statement as one string. The branch is live when the server ends up in a
   * transaction block: open (the statement answered) or failed (the statement's error goes to its caller, as it
   * would have without the BEGIN beside it; later statements fail in the block, PREPARE reports it). Anything
   * else — BEGIN itself refused, or a statement that ended the block (a `COMMIT` sent through the branch) — means
   * no branch: the error is the whole open's.
   */
  async #beginWith(together: string, client: pg.PoolClient): Promise<FirstStatement> {
    try {
      const result = firstStatementResult(await this.#run(together), client, {
        gid: this.gid,
        participant: this.name,
      });
      if (result.command !== 'SELECT') this.#onlyReads = false;
      return { result };
    } catch (error) {
      if (isConnectionError(error) || (await this.#statusAfterError(client)) !== 'E') throw error;
      this.#onlyReads = false;
      return { error };
    }
  }

  /**
   * The transaction status once the server has answered a failed string in full. pg reports an error as soon as
   * it reads it, before the server's ready-for-query that carries the status: a statement that cannot change
   * anything (`SELECT 1` fails in a failed block and only reads outside one) is answered after it. One round trip,
   * only when a first statement failed.
   */
  async #statusAfterError(client: pg.PoolClient): Promise<'I' | 'T' | 'E' | null> {
    await this.#run('SELECT 1').catch(() => {});
    return client.getTransactionStatus();
  }

  get state(): BranchState {
    return this.#state;
  }

  /**
   * Whether {@link endIfReadOnly} would ask the server: every statement so far answered SELECT, the branch is
   * active, and none is in flight (a statement the callback sent without waiting for it may yet write).
   */
  get mayBeReadOnly(): boolean {
    return this.#onlyReads && this.#state === 'active' && this.#busy === 0;
  }

  /** Whether a statement is in flight on the pinned connection. */
  get busy(): boolean {
    return this.#busy > 0;
  }

  /** The server process id of the pinned connection (for `pg_cancel_backend`), if still held. */
  get backendPid(): number | undefined {
    return (this.#client as { processID?: number } | undefined)?.processID;
  }

  /** Runs a user statement in the branch. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    statement: pg.QueryConfig,
  ): Promise<pg.QueryResult<R>> {
    if (this.#state !== 'active') {
      return Promise.reject(
        new TxkitError('TRANSACTION_FINISHED', `participant ${this.name} is no longer active`, {
          context: { gid: this.gid, participant: this.name },
        }),
      );
    }
    return this.#send<R>(statement.text, statement.values, statement.name, true);
  }

  /**
   * Ends the branch at once if it wrote nothing, instead of preparing it: a branch whose statements all answered
   * SELECT is asked whether it has a transaction id (any row written or locked `FOR UPDATE/SHARE` gets one) or
   * holds an advisory lock; with neither, its COMMIT releases nothing anyone relies on and makes nothing durable,
   * so the branch needs neither a PREPARE nor a COMMIT PREPARED. Resolves true when it was ended so. (A
   * `pg_notify` in such a branch is delivered at that COMMIT, before the decision; PREPARE would refuse it.)
   */
  async endIfReadOnly(): Promise<boolean> {
    if (!this.mayBeReadOnly) return false;
    const { rows } = await this.#run<{ read_only: boolean }>(readOnlyCheckSql());
    if (rows[0]?.read_only !== true) return false;
    await this.commit();
    this.release();
    return true;
  }

  /**
   * PREPARE TRANSACTION. PostgreSQL answers a PREPARE of a transaction that already failed (a statement error
   * the callback swallowed) with a ROLLBACK, not an error: that must not pass as prepared.
   */
  async prepare(): Promise<void> {
    this.#state = 'preparing';
    try {
      const result = await this.#run(prepareSql(this.gid));
      if (result.command !== 'PREPARE') {
        this.#state = 'ended';
        throw new TxkitError(
          'ROLLED_BACK',
          `participant ${this.name} was rolled back at PREPARE: an earlier statement failed`,
          { context: { gid: this.gid, participant: this.name } },
        );
      }
      this.#state = 'prepared';
    } catch (error) {
      // A failed PREPARE rolls the transaction back; a broken connection leaves it unknown.
      if (this.#state === 'preparing') this.#state = isConnectionError(error) ? 'unknown' : 'ended';
      throw error;
    }
  }

  /** One-phase COMMIT (the only participant, or the log participant whose COMMIT carries the decision). */
  async commit(sql = 'COMMIT'): Promise<void> {
    const results = await this.#run(sql);
    const last = Array.isArray(results) ? results[results.length - 1] : results;
    this.#state = 'ended';
    // COMMIT of a failed transaction answers ROLLBACK instead of an error.
    if ((last as pg.QueryResult | undefined)?.command !== 'COMMIT') {
      throw new TxkitError(
        'ROLLED_BACK',
        `participant ${this.name} rolled back at COMMIT: an earlier statement failed`,
        { context: { gid: this.gid, participant: this.name } },
      );
    }
  }

  /**
   * Runs a statement outside the branch, in autocommit, on the pinned connection: once the branch is prepared
   * the session is free, so the decision insert can use it instead of borrowing another connection.
   */
  async queryWhilePrepared<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    if (this.#state !== 'prepared' || !this.#client) {
      return this.pool.query<R>(text, values);
    }
    return this.#run<R>(text, values);
  }

  /** COMMIT PREPARED on the pinned connection if it is still usable, otherwise on a fresh one from the pool. */
  async commitPrepared(): Promise<void> {
    await finishPrepared(this.#runner(), this.gid, 'commit');
    this.#state = 'ended';
  }

  /**
   * Undoes the branch before any commit decision: ROLLBACK while active, ROLLBACK PREPARED once prepared (or
   * when PREPARE may have landed). Failures leave the branch to recovery (presumed abort); they never throw.
   */
  async rollback(): Promise<void> {
    try {
      if (this.#state === 'active' && this.#client) {
        await this.#run('ROLLBACK');
      } else if (this.#state === 'prepared' || this.#state === 'unknown' || this.#state === 'preparing') {
        await finishPrepared(this.#runner(), this.gid, 'abort');
      }
      this.#state = 'ended';
    } catch {
      // Left to recovery: an unprepared branch dies with its connection, a prepared one is presumed aborted.
    }
    if (!this.#client) return;
    this.release();
  }

  /** Gives the connection back (or destroys it if it is broken). Idempotent. */
  release(): void {
    const client = this.#client;
    if (!client) return;
    this.#client = undefined;
    client.off('error', ignoreClientError);
    client.release(this.#state === 'ended' || this.#state === 'prepared' ? undefined : true);
  }

  /** Destroys the connection: the server rolls back an unprepared branch when its session ends. Idempotent. */
  destroy(error?: unknown): void {
    const client = this.#client;
    if (!client) return;
    this.#client = undefined;
    if (this.#state === 'active') this.#state = 'ended';
    if (this.#state === 'preparing') this.#state = 'unknown';
    // The listener stays: a dying connection may still report its end.
    client.release(error instanceof Error ? error : new Error('txkit: connection destroyed'));
  }

  /** Runs phase-two SQL on the pinned connection while it is usable and idle, else on a pooled one. */
  #runner(): (sql: string) => Promise<unknown> {
    if (this.#client && this.#state === 'prepared') return (sql) => this.#run(sql);
    return (sql) => this.pool.query(sql);
  }

  #run<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.#send<R>(text, values, undefined, false);
  }

  /**
   * Sends one statement on the pinned connection; its promise is the only one made for it. Text and values go
   * to pg as two arguments, not as a config object, unless the statement is named: pg copies a config object
   * property by property (descriptors and all) on every call, which is most of what a statement costs on the
   * client. pg is called in its callback form (bounded by the pool's deadline all the same, see
   * `boundedPool`), so that neither pg nor an async function here makes a promise of its own.
   */
  #send<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values: unknown[] | undefined,
    name: string | undefined,
    fromCallback: boolean,
  ): Promise<pg.QueryResult<R>> {
    const client = this.#client;
    if (!client) {
      return Promise.reject(
        new TxkitError('TRANSACTION_FINISHED', `participant ${this.name}: connection already released`, {
          context: { gid: this.gid, participant: this.name },
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const onAnswer = (error: Error | null | undefined, result: pg.QueryResult<R>) => {
        this.#busy--;
        if (error) {
          // A failed statement counts as a write: the branch is aborted, and the usual PREPARE reports that.
          if (fromCallback) this.#onlyReads = false;
          if (isConnectionError(error)) this.destroy(error);
          reject(error);
          return;
        }
        if (fromCallback && !answeredSelect(result)) this.#onlyReads = false;
        resolve(result);
      };
      const query = client.query as (config: unknown, values: unknown, callback: typeof onAnswer) => void;
      this.#busy++;
      try {
        if (name === undefined) query.call(client, text, values, onAnswer);
        else query.call(client, { name, text, values }, undefined, onAnswer);
      } catch (error) {
        // Refused at once (pg throws): nothing in flight; the promise rejects with it.
        this.#busy--;
        throw error;
      }
    });
  }
}

/** A branch just opened, and how its first statement fared when it travelled with the BEGIN. */
export interface OpenedBranch {
  session: ParticipantSession;
  /** Present when the first statement was sent with the BEGIN: its result, or the error it failed with. */
  first?: FirstStatement;
}

/** The answer to a branch's first statement: a result, or the error the statement (not the branch) failed with. */
export type FirstStatement = { result: pg.QueryResult } | { error: unknown };

/**
 * The pinned client's `'error'` listener. A pinned client whose server goes away while it is idle emits 'error';
 * without a listener that would be an uncaught exception. The failure shows up on the next statement anyway,
 * which is where it is handled. One function for every session: a client is pinned by one session at a time.
 */
function ignoreClientError(): void {}

/** Whether every statement of a (possibly multi-statement) result answered SELECT. */
function answeredSelect(result: pg.QueryResult | pg.QueryResult[]): boolean {
  return Array.isArray(result) ? result.every((r) => r.command === 'SELECT') : result.command === 'SELECT';
}
