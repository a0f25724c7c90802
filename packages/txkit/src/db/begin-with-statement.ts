import type pg from 'pg';
import { TxkitError } from '../errors.js';
import { quoteLiteral } from './inline-statement.js';
import { statementTemplate } from './statement-template.js';

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
 * are written so — strings, numbers, bigints, booleans, null, and flat arrays of those (in pg's array text);
 * a Date, a Buffer, a nested array or an object keeps the usual path, as do named (prepared) statements. The
 * statement text is read as PostgreSQL's lexer would read it, and taken only when every `$n` outside its quoted
 * literals and identifiers is sure to be a placeholder and nothing can end it early: plain `'…'` literals and
 * `"…"` identifiers are stepped over; semicolons, backslashes, comments, dollar quoting and literals glued to a
 * word (`E'…'`, `B'…'`, `X'…'`) send it the usual way.
 *
 * @example
 * beginWithStatement('BEGIN', { text: "UPDATE seats SET state = 'sold' WHERE id = ANY($1::int[])", values: [[7, 8]] });
 * // "BEGIN; UPDATE seats SET state = 'sold' WHERE id = ANY('{\"7\",\"8\"}'::int[])"
 */
export function beginWithStatement(begin: string, statement: pg.QueryConfig): string | undefined {
  if (statement.name !== undefined) return undefined;
  const template = statementTemplate(statement.text);
  if (template === undefined) return undefined;
  const values = statement.values ?? [];
  // The server refuses a parameter count other than the statement's (and a `$n` it never sees has no type):
  // only a statement that uses each value reads the same written out.
  if (template.uses !== values.length) return undefined;
  let text = template.pieces[0]!;
  for (let i = 0; i < template.positions.length; i++) {
    const literal = literalOf(values[template.positions[i]!]);
    if (literal === undefined) return undefined;
    text += literal + template.pieces[i + 1]!;
  }
  return `${begin}; ${text}`;
}

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
    default: {
      const text = Array.isArray(value) ? arrayText(value) : undefined;
      return text === undefined ? undefined : quoteLiteral(text);
    }
  }
}

/**
 * A flat array in the text pg sends for it (`{"1","two",NULL}`: every element double-quoted, `"` and `\`
 * escaped), or undefined when an element is not plain (a nested array, a Date, an object, a string with NUL).
 */
function arrayText(values: readonly unknown[]): string | undefined {
  const elements: string[] = [];
  for (const value of values) {
    if (value === null || value === undefined) {
      elements.push('NULL');
      continue;
    }
    const type = typeof value;
    if (type !== 'string' && type !== 'number' && type !== 'bigint' && type !== 'boolean') return undefined;
    const element = String(value);
    if (element.includes('\0')) return undefined;
    elements.push(`"${element.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`);
  }
  return `{${elements.join(',')}}`;
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
