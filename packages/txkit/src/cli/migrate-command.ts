import type pg from 'pg';
import { runMigrations } from '../db/migrations.js';
import { ConfigurationError } from '../errors.js';
import { outboxMigrations } from '../outbox/outbox-migrations.js';
import { participantMigrations } from '../remote-saga/participant-migrations.js';
import { migrateBarrier } from '../saga/barrier.js';
import { sagaMigrations } from '../saga/saga-migrations.js';
import { TwoPhaseCoordinator } from '../two-phase/coordinator.js';
import type { CliSettings } from './cli-config.js';

/** The txkit components `txkit migrate` can create, and where each lives. */
export const COMPONENTS = ['two-phase', 'saga', 'outbox', 'barrier', 'saga-participant'] as const;
export type Component = (typeof COMPONENTS)[number];

/** One component migrated in one database. */
export interface MigrationResult {
  component: Component;
  database: string;
  /** Versions applied by this run (not reported for the decision log, which the coordinator migrates itself). */
  applied?: number[];
}

/** Parses `--components a,b`; the default is the two logs (decision log and saga log). */
export function parseComponents(text: string | undefined): Component[] {
  if (text === undefined) return ['two-phase', 'saga'];
  const names = text.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(COMPONENTS as readonly string[]).includes(name)) {
      throw new ConfigurationError(`unknown component "${name}" (known: ${COMPONENTS.join(', ')})`);
    }
  }
  return names as Component[];
}

/**
 * Applies the pending migrations: the decision log in the log database (after checking every participant has
 * `max_prepared_transactions` > 0), the saga log in the saga log database, and the outbox, barrier and remote
 * participant tables in every participant database (that is where services write them, in their own local transactions).
 */
export async function migrateAll(
  settings: CliSettings,
  participants: Map<string, pg.Pool>,
  log: pg.Pool,
  sagaLog: pg.Pool,
  components: readonly Component[],
): Promise<MigrationResult[]> {
  const results: MigrationResult[] = [];
  const schema = settings.schema;
  if (components.includes('two-phase')) {
    const coordinator = new TwoPhaseCoordinator({
      id: settings.coordinatorId ?? 'txkit-cli',
      participants: Object.fromEntries(participants),
      log,
      schema,
    });
    // The coordinator's own start-up: checks max_prepared_transactions on every participant, then migrates.
    await coordinator.migrate();
    results.push({ component: 'two-phase', database: 'log' });
  }
  if (components.includes('saga')) {
    const applied = await runMigrations(sagaLog, { schema, ...sagaMigrations });
    results.push({ component: 'saga', database: 'saga log', applied });
  }
  for (const [name, pool] of participants) {
    if (components.includes('outbox')) {
      const applied = await runMigrations(pool, { schema, ...outboxMigrations });
      results.push({ component: 'outbox', database: name, applied });
    }
    if (components.includes('barrier')) {
      results.push({ component: 'barrier', database: name, applied: await migrateBarrier(pool, { schema }) });
    }
    if (components.includes('saga-participant')) {
      const applied = await runMigrations(pool, { schema, ...participantMigrations });
      results.push({ component: 'saga-participant', database: name, applied });
    }
  }
  return results;
}
