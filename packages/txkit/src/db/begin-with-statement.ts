import type pg from 'pg';
import { TxkitError } from '../errors.js';
import { quoteLiteral } from './inline-statement.js';

/**
 * A branch's BEGIN and its first statement as one simple-query string, so that they travel in one round trip
 * instead of two; `undefined` when the statement cannot be written so without changing what it means (then
 * BEGIN goes first, on its own).
 *
 * Why one string is safe where two pipelined messages were not: PostgreSQL runs a simple-query string statement
 * by statement and abandons the rest of it at the first error, so a BEGIN that fails (a cancel or a shutdown
 * meeting it) takes the statement behind it down with it — the statement can never run, and commit, on its own.
 *
 * The values are written in as quoted literals. pg sends parameters as untyped text, and PostgreSQL resolves an
 * untyped parameter and a quoted literal the same way (both are of type `unknown` until their context gives them
 * one), so a literal made of the text pg would have sent means the same. Only the values whose text is plain
 * are written so — strings, numbers, bigints, booleans and null; a Date, a Buffer, an array or an object keeps
 * the usual path, as do named (prepared) statements. The statement text is taken only when nothing in it can
 * hide a `$n` that is not a placeholder or end the statement early: no quotes, semicolons, backslashes, comments
 * or dollar quoting.
 *
 * @example
 * beginWithStatement('BEGIN', { text: 'UPDATE seats SET taken = true WHERE id = $1', values: [7] });
 * // "BEGIN; UPDATE seats SET taken = true WHERE id = '7'"
 */
export function beginWithStatement(begin: string, statement: pg.QueryConfig): string | undefined {
  if (statement.name !== undefined || UNSAFE_TEXT.test(statement.text)) return undefined;
  const values = statement.values ?? [];
  const literals: string[] = [];
  for (const value of values) {
    const literal = literalOf(value);
    if (literal === undefined) return undefined;
    literals.push(literal);
  }
  let complete = true;
  const text = statement.text.replace(PLACEHOLDER, (_, digits: string) => {
    const literal = literals[Number(digits) - 1];
    if (literal === undefined) complete = false;
    return literal ?? '';
  });
  // A placeholder without its value: the server's own error on the usual path says it best.
  return complete ? `${begin}; ${text}` : undefined;
}

/** What may hide a `$n` that is not a placeholder, or end the statement: quotes, `;`, `\`, comments, `$$`. */
const UNSAFE_TEXT = /['"`;\\]|--|\/\*|\$(?!\d)/;
const PLACEHOLDER = /\$(\d+)/g;

/** The literal for a value whose text pg would send as is (see `prepareValue` in pg), or undefined. */
function literalOf(value: unknown): string | undefined {
  if (value === null || value === undefined) return 'NULL';
  switch (typeof value) {
    case 'string':
      // PostgreSQL text cannot hold NUL: the usual path reports that as the server's error.
      return value.includes('\0') ? undefined : quoteLiteral(value);
    case 'number':
    case 'bigint':
    case 'boolean':
      return quoteLiteral(String(value));
    default:
      return undefined;
  }
}

/**
 * The statement's result from the answer to `BEGIN …; <statement>` (one result per statement of the string),
 * provided the server is then in an open transaction block; a statement that ended the block (a `COMMIT` sent
 * as the first statement) fails with `TRANSACTION_FINISHED`. Read on success only: pg reports an error before
 * the ready-for-query that carries the status.
 *
 * @example
 * const result = firstStatementResult(await client.query(together), client, { participant: 'seats' });
 */
export function firstStatementResult(
  answer: unknown,
  client: pg.ClientBase,
  context: Record<string, unknown> = {},
): pg.QueryResult {
  if (client.getTransactionStatus() !== 'T') {
    throw new TxkitError(
      'TRANSACTION_FINISHED',
      'the first statement of the transaction ended its transaction block',
      {
        context,
      },
    );
  }
  const results = answer as pg.QueryResult[];
  return results[results.length - 1]!;
}

/** Whether this pg tells the transaction status (recent 8.x); without it, BEGIN always goes first, alone. */
export function canTellTransactionStatus(client: pg.ClientBase): boolean {
  return typeof (client as Partial<pg.ClientBase>).getTransactionStatus === 'function';
}
