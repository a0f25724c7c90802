import m1 from '../../sql/saga/000001_saga_log.sql';
import type { Migration } from '../db/migrations.js';

/** The saga log's numbered migrations (sql/saga). */
export const sagaMigrations: readonly Migration[] = [{ version: 1, sql: m1 }];
