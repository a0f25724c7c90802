import m1 from '../../sql/outbox/000001_outbox.sql';
import m2 from '../../sql/outbox/000002_participant_results.sql';
import m3 from '../../sql/outbox/000003_outbox_leaner_indexes.sql';
import type { Migration } from '../db/migrations.js';

/**
 * The outbox component's migrations, in order: the outbox and inbox tables, and the step results of remote saga
 * participants (the messaging side of txkit shares one component).
 *
 * @example
 * await runMigrations(pool, { schema: 'txkit', component: 'outbox', migrations: outboxMigrations });
 */
export const outboxMigrations: readonly Migration[] = [
  { version: 1, sql: m1 },
  { version: 2, sql: m2 },
  { version: 3, sql: m3 },
];
