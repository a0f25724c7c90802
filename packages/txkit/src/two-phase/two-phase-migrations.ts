import m1 from '../../sql/two-phase/000001_decision_log.sql';
import m2 from '../../sql/two-phase/000002_coordinator_leases.sql';
import type { ComponentMigrations } from '../db/migrations.js';

/**
 * The decision log's tables (sql/two-phase): the decisions and the coordinators' leases, in the log database;
 * `coordinator.migrate()` applies them.
 */
export const twoPhaseMigrations: ComponentMigrations = {
  component: 'two-phase',
  migrations: [
    { version: 1, sql: m1 },
    { version: 2, sql: m2 },
  ],
};
