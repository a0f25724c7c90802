import { ConfigurationError } from '../errors.js';

/**
 * Default schema for txkit's own tables (decision log, saga log, barrier, outbox).
 *
 * @example
 * await pool.query(`SELECT count(*) FROM ${DEFAULT_SCHEMA}.saga WHERE status = 'failed'`);
 */
export const DEFAULT_SCHEMA = 'txkit';

const identifier = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Validates a schema name and returns it quoted for SQL. Names are restricted to lower-case identifiers so
 * that they can be spliced into DDL and into statements that take no bind parameters.
 *
 * @example
 * quoteSchema('txkit'); // '"txkit"'
 */
export function quoteSchema(schema: string): string {
  if (!identifier.test(schema)) {
    throw new ConfigurationError(
      `invalid schema name '${schema}': use 1-63 characters of a-z, 0-9 and _, not starting with a digit`,
    );
  }
  return `"${schema}"`;
}
