import m1 from '../../sql/barrier/000001_barrier.sql';
import m2 from '../../sql/barrier/000002_barrier_output.sql';
import type { ComponentMigrations } from '../db/migrations.js';

/** The barrier table (sql/barrier), in each participant database; `migrateBarrier()` applies it. */
export const barrierMigrations: ComponentMigrations = {
  component: 'barrier',
  migrations: [
    { version: 1, sql: m1 },
    { version: 2, sql: m2 },
  ],
};
