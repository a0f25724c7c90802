import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundedPool } from '../../src/db/bounded-pool.js';
import { pipelining } from '../../src/db/pipelining.js';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';

/** Records, in order, what the client writes and when a reply arrives on its socket. */
function wireLog(client: pg.PoolClient): { events: string[]; stop(): void } {
  const stream = (
    client as unknown as { connection: { stream: NodeJS.WritableStream & NodeJS.EventEmitter } }
  ).connection.stream;
  const events: string[] = [];
  const write = stream.write;
  stream.write = function (this: unknown, ...args: unknown[]) {
    events.push('write');
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof stream.write;
  const onData = () => events.push('reply');
  stream.on('data', onData);
  return {
    events,
    stop() {
      stream.write = write;
      stream.off('data', onData);
    },
  };
}

describe('pipelining: statements sent without waiting for the previous reply', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;
  let raw: pg.Pool;

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, 'pipelining');
    raw = new pg.Pool({ connectionString: dbs.on('a').connectionString, max: 1 });
    await raw.query('CREATE TABLE IF NOT EXISTS pipelined (id int PRIMARY KEY)');
  });
  afterAll(async () => {
    await raw.end();
    await dbs.drop();
  });

  it('puts BEGIN and the next statement on the wire before any reply, through boundedPool too', async () => {
    for (const pool of [raw, boundedPool(raw, 10_000)]) {
      const client = await pool.connect();
      const restore = pipelining(client);
      const wire = wireLog(client);
      try {
        const begun = client.query('BEGIN');
        const inserted = client.query('INSERT INTO pipelined (id) VALUES ($1)', [1]);
        // Both sent in this tick: no reply can have arrived in between.
        expect(wire.events).not.toContain('reply');
        expect(wire.events.filter((e) => e === 'write').length).toBeGreaterThanOrEqual(2);
        await begun;
        expect((await inserted).rowCount).toBe(1);
        await client.query('ROLLBACK');
      } finally {
        wire.stop();
        restore();
        client.release();
      }
    }
  });

  it('keeps transaction semantics: a failed statement leaves the next one in an aborted transaction', async () => {
    const client = await raw.connect();
    const restore = pipelining(client);
    try {
      const outcomes = await Promise.allSettled([
        client.query('BEGIN'),
        client.query('INSERT INTO pipelined (id) VALUES ($1)', ['not a number']),
        client.query('INSERT INTO pipelined (id) VALUES ($1)', [2]),
        client.query('COMMIT'),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
      expect((outcomes[2] as PromiseRejectedResult).reason).toMatchObject({ code: '25P02' });
      // COMMIT of the aborted transaction answers ROLLBACK: nothing of it landed.
      expect((outcomes[3] as PromiseFulfilledResult<pg.QueryResult>).value.command).toBe('ROLLBACK');
      expect((await client.query('SELECT count(*)::int AS n FROM pipelined WHERE id = 2')).rows[0].n).toBe(0);
    } finally {
      restore();
      client.release();
    }
  });

  it('gives the client back as it was: the next borrower waits for each reply again', async () => {
    const client = await raw.connect();
    const flag = () => (client as unknown as { pipeline: boolean }).pipeline;
    const before = flag();
    const restore = pipelining(client);
    expect(flag()).toBe(true);
    restore();
    expect(flag()).toBe(before);
    const wire = wireLog(client);
    try {
      const first = client.query('SELECT 1');
      const second = client.query('SELECT 2');
      expect(wire.events.filter((e) => e === 'write').length).toBe(1); // the second waits for the first's reply
      await Promise.all([first, second]);
    } finally {
      wire.stop();
      client.release();
    }
  });
});
