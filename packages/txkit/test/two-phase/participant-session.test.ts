import type pg from 'pg';
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

  /** A branch of participant `seats` on database a, opened with its first statement beside the BEGIN. */
  const openWith = (gidPart: string, settings: { isolationLevel: IsolationLevel }, first: pg.QueryConfig) =>
    ParticipantSession.open('seats', `tx:session-test:${gidPart}:seats`, dbs.on('a').pool, settings, first);

  it('sends no statement of a branch whose BEGIN failed', async () => {
    const pool = dbs.on('a').pool;
    const opening = ParticipantSession.open('seats', 'tx:session-test:x:seats', pool, {
      isolationLevel: 'no such level' as IsolationLevel,
    });
    // The statement as the coordinator sends it: as soon as the session exists.
    const credit = opening.then(({ session }) => session.query({ text: 'INSERT INTO credits VALUES (1)' }));
    await expect(credit).rejects.toMatchObject({ code: '42601' });
    const { rowCount } = await pool.query('SELECT 1 FROM credits');
    expect(rowCount).toBe(0);
    await expect.poll(() => pool.totalCount - pool.idleCount, { timeout: 10_000 }).toBe(0);
  });

  it('sends no first statement travelling with a BEGIN that failed', async () => {
    const pool = dbs.on('a').pool;
    const opening = openWith(
      'y',
      { isolationLevel: 'no such level' as IsolationLevel },
      { text: 'INSERT INTO credits VALUES ($1)', values: [2] },
    );
    await expect(opening).rejects.toMatchObject({ code: '42601' });
    expect((await pool.query('SELECT 1 FROM credits')).rowCount).toBe(0);
    await expect.poll(() => pool.totalCount - pool.idleCount, { timeout: 10_000 }).toBe(0);
  });

  it('runs a first statement sent with the BEGIN inside the branch', async () => {
    const pool = dbs.on('a').pool;
    const { session, first } = await openWith(
      'z',
      { isolationLevel: 'read committed' },
      { text: 'INSERT INTO credits VALUES ($1) RETURNING id, $2 AS note', values: [3, "it's"] },
    );
    expect(first).toMatchObject({ result: { command: 'INSERT', rows: [{ id: 3, note: "it's" }] } });
    expect(session.mayBeReadOnly).toBe(false);
    await session.rollback();
    expect((await pool.query('SELECT 1 FROM credits WHERE id = 3')).rowCount).toBe(0);
  });

  it('hands a first statement its own error and keeps the failed branch (later statements fail as usual)', async () => {
    const pool = dbs.on('a').pool;
    await pool.query('INSERT INTO credits VALUES (4)');
    const { session, first } = await openWith(
      'w',
      { isolationLevel: 'read committed' },
      { text: 'INSERT INTO credits VALUES ($1)', values: [4] },
    );
    expect(first).toMatchObject({ error: { code: '23505' } });
    // In the failed transaction block, never in autocommit.
    await expect(session.query({ text: 'INSERT INTO credits VALUES (5)' })).rejects.toMatchObject({
      code: '25P02',
    });
    await expect(session.prepare()).rejects.toMatchObject({ code: 'ROLLED_BACK' });
    session.release();
    expect((await pool.query('SELECT id FROM credits ORDER BY id')).rows).toEqual([{ id: 4 }]);
    await expect.poll(() => pool.totalCount - pool.idleCount, { timeout: 10_000 }).toBe(0);
    await pool.query('DELETE FROM credits');
  });

  it('refuses a first statement that ends the transaction block', async () => {
    const pool = dbs.on('a').pool;
    const opening = openWith('v', { isolationLevel: 'read committed' }, { text: 'COMMIT' });
    await expect(opening).rejects.toMatchObject({ code: 'TRANSACTION_FINISHED' });
    await expect.poll(() => pool.totalCount - pool.idleCount, { timeout: 10_000 }).toBe(0);
  });
});
