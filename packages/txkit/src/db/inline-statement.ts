import { ConfigurationError } from '../errors.js';
import type { Statement } from './queryable.js';
import { statementTemplate } from './statement-template.js';

/**
 * Quotes a string as an SQL literal for statements that take no bind parameters (PREPARE, COMMIT PREPARED,
 * multi-statement strings). Backslashes are doubled inside an `E''` literal so the result is the same whatever
 * `standard_conforming_strings` says; NUL cannot be represented and is refused.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new ConfigurationError('an SQL literal cannot contain a NUL character');
  const body = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${body.replaceAll('\\', '\\\\')}'` : `'${body}'`;
}

/**
 * Turns a parameterised statement into plain SQL text with its values written in as literals, so that it can
 * travel in one simple-query string together with other statements (`BEGIN; INSERT ...`) — one round trip
 * where the extended protocol would need two. Only for statements written by txkit, whose texts the shared
 * reader (`statementTemplate`) must accept and whose every value must be used. Values: strings, finite numbers,
 * booleans, null, and arrays of those (written as `ARRAY[...]`, so the statement must cast the placeholder, as in
 * `$4::text[]`, or the array be non-empty).
 *
 * @example
 * const sql = `BEGIN; ${inlineStatement(insertAction(schema, sagaId, step))}`;
 */
export function inlineStatement(statement: Statement): string {
  const template = statementTemplate(statement.text);
  if (template === undefined || template.uses !== statement.values.length) {
    throw new ConfigurationError(
      `inlineStatement: cannot write ${statement.values.length} value(s) into ${JSON.stringify(statement.text)}`,
    );
  }
  const { pieces, positions } = template;
  let sql = pieces[0]!;
  for (let i = 0; i < positions.length; i++) sql += literal(statement.values[positions[i]!]) + pieces[i + 1]!;
  return sql;
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return quoteLiteral(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  // Negative numbers in parentheses: `-$1` must not become a `--` comment.
  if (typeof value === 'number' && Number.isFinite(value)) return value < 0 ? `(${value})` : String(value);
  if (Array.isArray(value)) return `ARRAY[${value.map(literal).join(', ')}]`;
  throw new ConfigurationError(`inlineStatement: cannot write ${typeof value} ${String(value)} as a literal`);
}
