import m1 from '../../sql/outbox/000001_outbox.sql';
import m3 from '../../sql/outbox/000003_outbox_leaner_indexes.sql';
import type { ComponentMigrations } from '../db/migrations.js';

/**
 * The outbox and inbox tables (sql/outbox), in each database that enqueues or consumes; `outbox.migrate()`
 * applies them.
 *
 * Version 2 created the remote saga participants' `participant_results` table until that table moved to its
 * own component (`saga-participant`, src/remote-saga/participant-migrations.ts). It stays here as a step that
 * does nothing: databases that applied it keep their record, and a fresh database records it too, so that an
 * older txkit starting against it (a rolling deploy) does not try to create the table a second time.
 */
export const outboxMigrations: ComponentMigrations = {
  component: 'outbox',
  migrations: [
    { version: 1, sql: m1 },
    { version: 2, sql: 'SELECT 1 -- participant_results moved to the saga-participant component' },
    { version: 3, sql: m3 },
  ],
};
