import type pg from 'pg';
import { withClient } from './queryable.js';
import { quoteSchema } from './schema-name.js';

/**
 * One numbered migration of a component. `sql` may contain `:SCHEMA`, replaced by the quoted schema name.
 *
 * @example
 * const m: Migration = { version: 1, sql: 'CREATE TABLE :SCHEMA.things (id int PRIMARY KEY)' };
 */
export interface Migration {
  version: number;
  sql: string;
}

// Same key for every txkit component and schema: migrations are rare and short, one at a time is fine.
const MIGRATION_LOCK_KEY = 0x7478_6b74; // 'txkt'

/**
 * Applies a component's pending migrations in order, each in its own transaction, under an advisory lock so
 * that several processes starting at once do not race. Returns the versions applied.
 *
 * @example
 * await runMigrations(pool, { schema: 'txkit', component: 'two-phase', migrations: twoPhaseMigrations });
 */
export async function runMigrations(
  pool: pg.Pool,
  options: { schema: string; component: string; migrations: readonly Migration[] },
): Promise<number[]> {
  const schema = quoteSchema(options.schema);
  return withClient(pool, async (client) => {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${schema}.migrations (
           component text NOT NULL,
           version integer NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now(),
           PRIMARY KEY (component, version))`,
      );
      const { rows } = await client.query<{ version: number }>(
        `SELECT version FROM ${schema}.migrations WHERE component = $1`,
        [options.component],
      );
      const done = new Set(rows.map((r) => r.version));
      const applied: number[] = [];
      for (const migration of [...options.migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql.replaceAll(':SCHEMA', schema));
          await client.query(`INSERT INTO ${schema}.migrations (component, version) VALUES ($1, $2)`, [
            options.component,
            migration.version,
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw error;
        }
        applied.push(migration.version);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    }
  });
}
