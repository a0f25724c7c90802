import m1 from '../../sql/saga/000001_saga_log.sql';
import m2 from '../../sql/saga/000002_saga_step_without_foreign_key.sql';
import type { ComponentMigrations } from '../db/migrations.js';

/** The saga log's tables (sql/saga), in the saga log database; `runner.migrate()` applies them. */
export const sagaMigrations: ComponentMigrations = {
  component: 'saga',
  migrations: [
    { version: 1, sql: m1 },
    { version: 2, sql: m2 },
  ],
};
