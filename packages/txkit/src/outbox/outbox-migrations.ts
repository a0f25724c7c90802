import m1 from '../../sql/outbox/000001_outbox.sql';
import type { Migration } from '../db/migrations.js';

/** The outbox component's migrations, in order. */
export const outboxMigrations: readonly Migration[] = [{ version: 1, sql: m1 }];
