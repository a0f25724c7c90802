import type { Statement } from './queryable.js';

/** Quotes a string as a SQL literal (a client's `escapeLiteral`, which knows the connection's settings). */
export type EscapeLiteral = (value: string) => string;

/**
 * Turns a parameterised statement into plain SQL text with its values written in as literals, so that it can
 * travel in one simple-query string together with other statements (`BEGIN; INSERT ...`) — one round trip
 * where the extended protocol would need two. Only for statements written by txkit: `$n` must not occur
 * inside their quoted text. Values: strings, finite numbers, booleans, null, and arrays of those (written as
 * `ARRAY[...]`, so the statement must cast the placeholder, as in `$4::text[]`).
 *
 * @example
 * const sql = `BEGIN; ${inlineStatement(insertAction(schema, sagaId, step), client.escapeLiteral)}`;
 */
export function inlineStatement(statement: Statement, escapeLiteral: EscapeLiteral): string {
  return statement.text.replace(/\$(\d+)/g, (placeholder, position: string) => {
    const index = Number(position) - 1;
    if (index < 0 || index >= statement.values.length) {
      throw new Error(`inlineStatement: ${placeholder} has no value`);
    }
    return literal(statement.values[index], escapeLiteral);
  });
}

function literal(value: unknown, escapeLiteral: EscapeLiteral): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return escapeLiteral(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  // Negative numbers in parentheses: `-$1` must not become a `--` comment.
  if (typeof value === 'number' && Number.isFinite(value)) return value < 0 ? `(${value})` : String(value);
  if (Array.isArray(value)) return `ARRAY[${value.map((v) => literal(v, escapeLiteral)).join(', ')}]`;
  throw new Error(`inlineStatement: cannot write ${typeof value} ${String(value)} as a literal`);
}
