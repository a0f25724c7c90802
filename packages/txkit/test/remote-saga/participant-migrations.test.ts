import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrations } from '../../src/db/migrations.js';
import { outboxMigrations } from '../../src/outbox/outbox-migrations.js';
import { participantMigrations } from '../../src/remote-saga/participant-migrations.js';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';

// Until txkit 0.2, the participant_results table was version 2 of the outbox component. These are that
// version's statements as users' databases ran them (no IF NOT EXISTS).
const OLD_OUTBOX_V2 = `CREATE TABLE :SCHEMA.participant_results (
  saga_id text NOT NULL, step text NOT NULL, output jsonb, created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (saga_id, step));
CREATE INDEX participant_results_created_at_idx ON :SCHEMA.participant_results (created_at);`;
const oldOutbox = outboxMigrations.migrations.map((m) =>
  m.version === 2 ? { version: 2, sql: OLD_OUTBOX_V2 } : m,
);

describe('the participant_results table, moved from the outbox component to saga-participant', () => {
  let dbs: TestDatabases;

  beforeAll(async () => {
    dbs = await createTestDatabases(testCluster(), 'participant migrations');
  });
  afterAll(() => dbs?.drop());

  it('a database migrated before the move keeps its table and rows, and records the new component', async () => {
    const pool = dbs.on('a').pool;
    expect(
      await runMigrations(pool, { schema: 'txkit', component: 'outbox', migrations: oldOutbox }),
    ).toEqual([1, 2, 3]);
    await pool.query(
      `INSERT INTO txkit.participant_results (saga_id, step, output) VALUES ('s1', 'pay', '1')`,
    );

    expect(await runMigrations(pool, { schema: 'txkit', ...outboxMigrations })).toEqual([]);
    expect(await runMigrations(pool, { schema: 'txkit', ...participantMigrations })).toEqual([1]);
    const { rows } = await pool.query('SELECT saga_id FROM txkit.participant_results');
    expect(rows).toEqual([{ saga_id: 's1' }]);
  });

  it('a fresh database gets the table from saga-participant, and an older txkit starting against it does not create it again', async () => {
    const pool = dbs.on('b').pool;
    expect(await runMigrations(pool, { schema: 'txkit', ...outboxMigrations })).toEqual([1, 2, 3]);
    expect(await runMigrations(pool, { schema: 'txkit', ...participantMigrations })).toEqual([1]);
    // A rolling deploy: an instance of the previous version migrates with its own list (version 2 recorded).
    expect(
      await runMigrations(pool, { schema: 'txkit', component: 'outbox', migrations: oldOutbox }),
    ).toEqual([]);
    const { rows } = await pool.query(
      `SELECT component, version FROM txkit.migrations WHERE component IN ('outbox', 'saga-participant')
        ORDER BY component, version`,
    );
    expect(rows).toEqual([
      { component: 'outbox', version: 1 },
      { component: 'outbox', version: 2 },
      { component: 'outbox', version: 3 },
      { component: 'saga-participant', version: 1 },
    ]);
    expect(
      (await pool.query(`SELECT to_regclass('txkit.participant_results') IS NOT NULL AS ok`)).rows,
    ).toEqual([{ ok: true }]);
  });
});
