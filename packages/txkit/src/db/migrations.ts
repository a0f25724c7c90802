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

/**
 * The migrations of one component: its name in the schema's `migrations` table (which records the versions
 * applied, per component) and its numbered steps. Every txkit table is created by exactly one component,
 * declared next to the module that owns the table's SQL, and applied by that module's `migrate()`.
 * Versions already recorded in users' databases keep their number and their component for good.
 *
 * @example
 * export const sagaMigrations: ComponentMigrations = { component: 'saga', migrations: [{ version: 1, sql: m1 }] };
 */
export interface ComponentMigrations {
  component: string;
  migrations: readonly Migration[];
}

// Same key for every txkit component and schema: migrations are rare and short, one at a time is fine.
const MIGRATION_LOCK_KEY = 0x7478_6b74; // 'txkt'

/**
 * Applies a component's pending migrations in order, each in its own transaction, under an advisory lock so
 * that several processes starting at once do not race. Returns the versions applied. The versions applied are
 * recorded per component in the schema's `migrations` table; `sql` may contain `:SCHEMA`, replaced by the
 * quoted schema name. txkit's own tables are migrated the same way, by each component's `migrate()`.
 *
 * @example
 * await runMigrations(pool, { schema: 'app', component: 'seats', migrations: [{ version: 1, sql: createSeats }] });
 */
export async function runMigrations(
  pool: pg.Pool,
  options: { schema: string; component: string; migrations: readonly { version: number; sql: string }[] },
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
