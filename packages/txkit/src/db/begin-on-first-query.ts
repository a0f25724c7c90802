import type pg from 'pg';
import {
  beginWithStatement,
  canTellTransactionStatus,
  firstStatementResult,
} from './begin-with-statement.js';

/**
 * A transaction whose BEGIN waits for its first statement, so that the two travel in one round trip where the
 * statement can be written into the same string (see {@link beginWithStatement}); otherwise BEGIN goes first,
 * alone, and the statement once BEGIN has answered. Either way no statement of the transaction ever reaches the
 * server without its BEGIN having taken effect: once the first statement (or a BEGIN of its own) has failed, every
 * later one fails with the same error instead of being sent — pg reports a failure before the server says whether
 * the BEGIN took, and in a failed block nothing could succeed anyway.
 *
 * @example
 * const tx = beginOnFirstQuery(client, 'BEGIN');
 * await tx.client.query('UPDATE seats SET taken = true WHERE id = $1', [7]); // "BEGIN; UPDATE …" in one trip
 * await tx.end('COMMIT');
 */
export interface DeferredTransaction {
  /** The client to give the transaction's work: its `query` begins the transaction on first use. */
  readonly client: pg.PoolClient;
  /**
   * Sends `COMMIT` or `ROLLBACK` (after the statements in flight) and answers its result; answers undefined
   * without a round trip when nothing was ever sent (no transaction was opened). After a failed first statement
   * (or BEGIN) it rolls back whatever may be open, and a COMMIT fails with that error.
   */
  end(sql: 'COMMIT' | 'ROLLBACK'): Promise<pg.QueryResult | undefined>;
}

type QueryArgs = unknown[];

/** Wraps a borrowed client for one transaction that begins with `begin` (BEGIN and any SET LOCAL). */
export function beginOnFirstQuery(client: pg.PoolClient, begin: string): DeferredTransaction {
  // Settles once the first statement (with or without the BEGIN beside it) has answered; later statements wait
  // for it, so that none can slip past a BEGIN that failed.
  let first: Promise<void> | undefined;
  let refused: unknown;
  const send = (args: QueryArgs) => (client.query as (...a: QueryArgs) => unknown)(...args);
  const afterFirst = (args: QueryArgs): unknown => {
    const callback =
      typeof args[args.length - 1] === 'function' ? (args[args.length - 1] as Callback) : undefined;
    const sent = first!.then(() => {
      if (refused !== undefined) throw refused;
      return send(args);
    });
    if (!callback) return sent;
    sent.catch((error: Error) => callback(error, undefined));
    return undefined;
  };
  const query = (...args: QueryArgs): unknown => {
    if (first) return afterFirst(args);
    const together = canTellTransactionStatus(client) ? combined(begin, args) : undefined;
    if (together === undefined) {
      first = client.query(begin).then(
        () => {},
        (error: unknown) => {
          refused = error;
        },
      );
      return afterFirst(args);
    }
    const answer = client.query(together).then((results) => firstStatementResult(results, client));
    first = answer.then(
      () => {},
      (error: unknown) => {
        // pg reports the error before the server says whether the BEGIN took effect: nothing more may run either
        // way (in a failed block it could not have succeeded; without one it would run in autocommit).
        refused ??= error;
      },
    );
    return answer;
  };
  const wrapped = new Proxy(client, {
    get(target, property, receiver) {
      return property === 'query' ? query : Reflect.get(target, property, receiver);
    },
  });
  return {
    client: wrapped,
    async end(sql) {
      if (!first) return undefined;
      await first;
      if (refused === undefined) return client.query(sql);
      // A BEGIN refused, or a first statement that failed: a failed block may be open (a ROLLBACK outside one only
      // warns), and a COMMIT must not pass for one that never was.
      await client.query('ROLLBACK');
      if (sql === 'COMMIT') throw refused;
      return undefined;
    },
  };
}

type Callback = (error: Error | undefined, result: unknown) => void;

/** `BEGIN; <statement>` for a first call of the plain promise forms, `query(text, values?)` or `query({ text, values })`. */
function combined(begin: string, args: QueryArgs): string | undefined {
  const [config, values] = args as unknown[];
  if (typeof config === 'string') {
    if (args.length > 2 || (values !== undefined && !Array.isArray(values))) return undefined;
    return beginWithStatement(begin, { text: config, values: values as unknown[] | undefined });
  }
  if (args.length !== 1 || config === null || typeof config !== 'object') return undefined;
  const { text, values: configValues, ...rest } = config as pg.QueryConfig & Record<string, unknown>;
  // Only a bare statement: a name, a row mode, types, a submittable's methods… keep the usual path.
  if (typeof text !== 'string' || Object.keys(rest).length > 0) return undefined;
  return beginWithStatement(begin, { text, values: configValues });
}
