import m1 from '../../sql/saga/000001_saga_log.sql';
import type { Migration } from '../db/migrations.js';

/**
 * The saga log's numbered migrations (sql/saga), for tools that run migrations themselves;
 * `runner.migrate()` applies them.
 *
 * @example
 * await runMigrations(pool, { schema: 'txkit', component: 'saga', migrations: sagaMigrations });
 */
export const sagaMigrations: readonly Migration[] = [{ version: 1, sql: m1 }];
