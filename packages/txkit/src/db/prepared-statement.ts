import { createHash } from 'node:crypto';
import type { Statement } from './queryable.js';

/** A statement with a name: node-postgres parses and plans it once per connection, then only binds values. */
export type NamedStatement = Statement & { name: string };

const names = new Map<string, string>();
/** Distinct texts seen; txkit's statements are a few dozen per configuration, this only guards the memory. */
const MAX_NAMES = 1_000;

/**
 * Names a statement after its text, so that node-postgres prepares it on first use on each connection and from
 * then on skips PostgreSQL's parse and (after a few executions, once a generic plan is chosen) its planning. The
 * saga log's fenced writes are CTEs whose planning costs about as much as running them; prepared, their cost
 * per saga roughly halves. The name is a hash of the text: two texts never share a name (node-postgres refuses
 * to re-prepare a name with another text), and equal texts share one.
 *
 * Named statements need a session that keeps them: a direct connection or a pooler that tracks prepared
 * statements (PgBouncer 1.21+ with `max_prepared_statements`). Behind an older transaction-mode pooler, turn them
 * off (the runner's `preparedStatements: false`).
 *
 * @example
 * await pool.query(prepared({ text: 'SELECT * FROM txkit.saga WHERE id = $1', values: [id] }));
 */
export function prepared(statement: Statement): NamedStatement {
  let name = names.get(statement.text);
  if (name === undefined) {
    if (names.size >= MAX_NAMES) names.clear();
    name = `txkit_${createHash('sha256').update(statement.text).digest('base64url').slice(0, 24)}`;
    names.set(statement.text, name);
  }
  return { ...statement, name };
}
