import m1 from '../../sql/saga-participant/000001_participant_results.sql';
import type { ComponentMigrations } from '../db/migrations.js';

/**
 * The remote saga participant's step results (sql/saga-participant), in the participant's database;
 * `participant.migrate()` applies them, after the barrier table.
 *
 * Until txkit 0.2 this table was version 2 of the outbox component, so databases migrated then already have
 * it: version 1 here creates it only if it does not exist.
 */
export const participantMigrations: ComponentMigrations = {
  component: 'saga-participant',
  migrations: [{ version: 1, sql: m1 }],
};
