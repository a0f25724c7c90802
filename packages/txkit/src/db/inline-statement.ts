import { ConfigurationError } from '../errors.js';
import type { Statement } from './queryable.js';

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
 * where the extended protocol would need two. Only for statements written by txkit: `$n` must not occur
 * inside their quoted text. Values: strings, finite numbers, booleans, null, and arrays of those (written as
 * `ARRAY[...]`, so the statement must cast the placeholder, as in `$4::text[]`, or the array be non-empty).
 *
 * @example
 * const sql = `BEGIN; ${inlineStatement(insertAction(schema, sagaId, step))}`;
 */
export function inlineStatement(statement: Statement): string {
  const { pieces, positions } = templateOf(statement.text);
  let sql = pieces[0]!;
  for (let i = 0; i < positions.length; i++) {
    const index = positions[i]!;
    if (index < 0 || index >= statement.values.length) {
      throw new ConfigurationError(`inlineStatement: $${index + 1} has no value`);
    }
    sql += literal(statement.values[index]) + pieces[i + 1]!;
  }
  return sql;
}

/** A statement text cut at its placeholders: the text between them, and which value each one takes. */
interface Template {
  pieces: string[];
  positions: number[];
}

const templates = new Map<string, Template>();
/** txkit inlines a handful of fixed texts; this only guards the memory. */
const MAX_TEMPLATES = 100;

/** Cuts a text at its placeholders once, not on every call (the commit decision is inlined per transaction). */
function templateOf(text: string): Template {
  let template = templates.get(text);
  if (template) return template;
  const pieces: string[] = [];
  const positions: number[] = [];
  let last = 0;
  for (const match of text.matchAll(/\$(\d+)/g)) {
    pieces.push(text.slice(last, match.index));
    positions.push(Number(match[1]) - 1);
    last = match.index + match[0].length;
  }
  pieces.push(text.slice(last));
  template = { pieces, positions };
  if (templates.size >= MAX_TEMPLATES) templates.clear();
  templates.set(text, template);
  return template;
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
