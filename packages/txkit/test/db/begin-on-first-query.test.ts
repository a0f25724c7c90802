import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { beginOnFirstQuery } from '../../src/db/begin-on-first-query.js';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';

// A local transaction whose BEGIN rides with its first statement: one round trip less, and never a statement
// that runs (and commits) on its own because the BEGIN in front of it failed.
describe('beginOnFirstQuery', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;
  let pool: pg.Pool;

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, 'begin on first query');
    pool = dbs.on('a').pool;
    await pool.query('CREATE TABLE seats (id int PRIMARY KEY, note text)');
  });
  beforeEach(() => pool.query('DELETE FROM seats'));
  afterAll(() => dbs.drop());

  /** A borrowed client whose round trips are counted. */
  async function counted(): Promise<{ client: pg.PoolClient; sent: string[] }> {
    const client = await pool.connect();
    const sent: string[] = [];
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      const first = args[0];
      sent.push(typeof first === 'string' ? first : (first as { text: string }).text);
      return query(...args);
    };
    return { client, sent };
  }

  it('sends BEGIN and the first statement in one round trip, inside one transaction', async () => {
    const { client, sent } = await counted();
    const tx = beginOnFirstQuery(client, 'BEGIN');
    const inserted = await tx.client.query('INSERT INTO seats VALUES ($1, $2) RETURNING id', [1, 'a']);
    expect(inserted.rows).toEqual([{ id: 1 }]);
    await tx.client.query({ text: 'INSERT INTO seats VALUES ($1, $2)', values: [2, 'b'] });
    expect((await tx.end('ROLLBACK'))?.command).toBe('ROLLBACK');
    client.release();
    expect(sent).toEqual([
      "BEGIN; INSERT INTO seats VALUES ('1', 'a') RETURNING id",
      'INSERT INTO seats VALUES ($1, $2)',
      'ROLLBACK',
    ]);
    expect((await pool.query('SELECT id FROM seats')).rowCount).toBe(0);
  });

  it('sends BEGIN alone first when the statement cannot ride with it', async () => {
    const { client, sent } = await counted();
    const tx = beginOnFirstQuery(client, 'BEGIN');
    // A prefixed literal (E'…') is one the string's reader will not step over.
    await tx.client.query("INSERT INTO seats VALUES ($1, E'quoted')", [3]);
    expect((await tx.end('COMMIT'))?.command).toBe('COMMIT');
    client.release();
    expect(sent).toEqual(['BEGIN', "INSERT INTO seats VALUES ($1, E'quoted')", 'COMMIT']);
    expect((await pool.query('SELECT note FROM seats WHERE id = 3')).rows).toEqual([{ note: 'quoted' }]);
  });

  it.each([
    ['with the BEGIN', 'INSERT INTO seats VALUES ($1)'],
    ['after the BEGIN', "INSERT INTO seats (id, note) VALUES ($1, E'x')"],
  ])('runs nothing when the BEGIN fails, the first statement %s', async (_, text) => {
    const client = await pool.connect();
    const tx = beginOnFirstQuery(client, 'BEGIN ISOLATION LEVEL nonsense');
    // Two statements at once, the second sent before the first has answered.
    const first = tx.client.query(text, [4]);
    const second = tx.client.query('INSERT INTO seats VALUES ($1)', [5]);
    await expect(first).rejects.toMatchObject({ code: '42601' });
    await expect(second).rejects.toMatchObject({ code: '42601' });
    await expect(tx.end('COMMIT')).rejects.toMatchObject({ code: '42601' });
    client.release();
    expect((await pool.query('SELECT id FROM seats')).rowCount).toBe(0);
  });

  it('ends the transaction at a first statement that failed: later ones fail with its error, never in autocommit', async () => {
    await pool.query('INSERT INTO seats VALUES (6)');
    const client = await pool.connect();
    const tx = beginOnFirstQuery(client, 'BEGIN');
    await expect(tx.client.query('INSERT INTO seats VALUES ($1)', [6])).rejects.toMatchObject({
      code: '23505',
    });
    await expect(tx.client.query('INSERT INTO seats VALUES ($1)', [7])).rejects.toMatchObject({
      code: '23505',
    });
    await expect(tx.end('COMMIT')).rejects.toMatchObject({ code: '23505' });
    // Rolled back: the connection goes back to the pool outside any transaction block.
    expect(client.getTransactionStatus()).toBe('I');
    client.release();
    expect((await pool.query('SELECT id FROM seats')).rows).toEqual([{ id: 6 }]);
  });

  it('refuses a first statement that ends the block, and everything after it', async () => {
    const client = await pool.connect();
    const tx = beginOnFirstQuery(client, 'BEGIN');
    await expect(tx.client.query('COMMIT')).rejects.toMatchObject({ code: 'TRANSACTION_FINISHED' });
    await expect(tx.client.query('INSERT INTO seats VALUES ($1)', [8])).rejects.toMatchObject({
      code: 'TRANSACTION_FINISHED',
    });
    await expect(tx.end('COMMIT')).rejects.toMatchObject({ code: 'TRANSACTION_FINISHED' });
    client.release();
    expect((await pool.query('SELECT id FROM seats')).rowCount).toBe(0);
  });

  it('sends nothing for a transaction without statements', async () => {
    const { client, sent } = await counted();
    const tx = beginOnFirstQuery(client, 'BEGIN');
    expect(await tx.end('COMMIT')).toBeUndefined();
    client.release();
    expect(sent).toEqual([]);
  });
});
