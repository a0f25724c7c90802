import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';
import type { IsolationLevel } from '../../src/two-phase/branch-sql.js';
import { ParticipantSession } from '../../src/two-phase/participant-session.js';

// A branch's first statement must never reach the server before its BEGIN has: a BEGIN rejected as a whole (here
// a string the server cannot parse; in production a cancel or a shutdown at that moment) opens no transaction
// block, and a statement sent right behind it would run and commit on its own. Found by the partition property
// (seed 1755122844): a credit committed without its effect row after BEGIN and the credit had been pipelined.
describe('ParticipantSession', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, 'participant session');
    await dbs.on('a').pool.query('CREATE TABLE credits (id int PRIMARY KEY)');
  });
  afterAll(() => dbs.drop());

  it('sends no statement of a branch whose BEGIN failed', async () => {
    const pool = dbs.on('a').pool;
    const opening = ParticipantSession.open('seats', 'tx:session-test:x:seats', pool, {
      isolationLevel: 'no such level' as IsolationLevel,
    });
    // The statement as the coordinator sends it: as soon as the session exists.
    const credit = opening.then((session) => session.query({ text: 'INSERT INTO credits VALUES (1)' }));
    await expect(credit).rejects.toMatchObject({ code: '42601' });
    const { rowCount } = await pool.query('SELECT 1 FROM credits');
    expect(rowCount).toBe(0);
    await expect.poll(() => pool.totalCount - pool.idleCount, { timeout: 10_000 }).toBe(0);
  });
});
