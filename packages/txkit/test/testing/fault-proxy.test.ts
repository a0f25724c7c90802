import { once } from 'node:events';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { connect as amqpConnect } from 'amqplib';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultHook } from '../../src/faults.js';
import { TwoPhaseCoordinator } from '../../src/index.js';
import {
  assertRabbitMqReachable,
  createTestDatabases,
  type FaultProxy,
  listPreparedTransactions,
  playFaultSchedule,
  randomFaultSchedule,
  startFaultProxy,
  type TestDatabases,
  testAmqpUrl,
  testCluster,
} from '../../src/testing/index.js';

/** Waits for a condition outside the proxy (e.g. in pg_stat_activity), polling, up to a deadline. */
async function waitFor(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A settled-or-not view of a promise, to check that it is still pending without waiting on it. */
function track<T>(promise: Promise<T>) {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  const done = promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return { state, done };
}

/** Resolves on the first `event` (unlike events.once, an 'error' before it does not reject). */
function next(emitter: { once(event: string, listener: () => void): unknown }, event: string): Promise<void> {
  return new Promise((resolve) => emitter.once(event, () => resolve()));
}

const isConnectionLoss = (error: unknown) =>
  error instanceof Error &&
  ((error as NodeJS.ErrnoException).code === 'ECONNRESET' || /Connection terminated/i.test(error.message));

describe('fault proxy', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;
  let url: string;
  let proxy: FaultProxy;
  const clients: pg.Client[] = [];

  /** A client of the test database through the proxy, whose errors are expected (it is meant to be cut). */
  async function proxiedClient(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: proxy.url('pg', url) });
    client.on('error', () => {});
    clients.push(client);
    await client.connect();
    return client;
  }

  /** Whether the server runs a statement containing `marker` (in pg_stat_activity, read directly). */
  async function serverRuns(marker: string): Promise<boolean> {
    const { rows } = await dbs
      .on('a')
      .pool.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
        [marker],
      );
    return rows[0].n > 0;
  }

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, 'fault proxy');
    url = dbs.on('a').connectionString;
    await dbs.on('a').pool.query('CREATE TABLE notes (id int PRIMARY KEY, body text)');
  });
  afterAll(() => dbs.drop());

  beforeEach(async () => {
    proxy = await startFaultProxy({ upstreams: { pg: url } });
  });
  afterEach(async () => {
    await proxy.close();
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
  });

  it('passes a PostgreSQL session through, to the database its URL names', async () => {
    expect(proxy.address('pg')).toEqual({ host: '127.0.0.1', port: expect.any(Number) });
    const proxied = new URL(proxy.url('pg', url));
    expect(proxied.pathname).toBe(new URL(url).pathname);
    expect(proxied.port).toBe(String(proxy.address('pg').port));
    const client = await proxiedClient();
    const { rows } = await client.query('SELECT current_database() AS db, 41 + 1 AS answer');
    expect(rows).toEqual([{ db: dbs.on('a').database, answer: 42 }]);
    const stats = proxy.stats('pg');
    expect(stats).toMatchObject({ mode: { mode: 'pass' }, accepted: 1, open: 1, resets: 0 });
    expect(stats.bytesToServer).toBeGreaterThan(0);
    expect(stats.bytesToClient).toBeGreaterThan(0);
  });

  it('cut: an in-flight query fails with a connection error, the server sees it go, new connections fail', async () => {
    const client = await proxiedClient();
    const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
    const pid: number = rows[0].pid;
    // Without it a sleeping backend notices a dead client only when it next writes to it.
    await client.query("SET client_connection_check_interval = '50ms'");
    const running = track(client.query("SELECT pg_sleep(60), 'cut-in-flight'"));
    await waitFor('the query to run on the server', () => serverRuns("'cut-in-flight'"));

    await proxy.set('pg', 'cut');
    await running.done;
    expect(isConnectionLoss(running.state.error)).toBe(true);
    expect(proxy.stats('pg')).toMatchObject({ open: 0, resets: 1 });
    // The server got a reset too: its backend ends without waiting for the 60 s sleep.
    await waitFor('the backend to end', async () => {
      const found = await dbs.on('a').pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
      return found.rowCount === 0;
    });

    const refused = new pg.Client({ connectionString: proxy.url('pg', url) });
    refused.on('error', () => {});
    const error = await refused.connect().catch((e: unknown) => e);
    expect(isConnectionLoss(error)).toBe(true);
    // The client may read the reset before the proxy's own socket reports it closed.
    await proxy.until('pg', (s) => s.open === 0);
    expect(proxy.stats('pg')).toMatchObject({ accepted: 2, resets: 2 });

    await proxy.set('pg', 'pass');
    expect((await (await proxiedClient()).query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('blackhole: a query hangs while its bytes are held, and completes once the network heals', async () => {
    const client = await proxiedClient();
    await proxy.set('pg', 'blackhole');
    const query = track(client.query("SELECT 'delivered late' AS body"));
    const held = await proxy.until('pg', (s) => s.heldToServer > 0);
    expect(held.bytesToServer).toBe(proxy.stats('pg').bytesToServer);
    expect(query.state.settled).toBe(false);
    expect(await serverRuns("'delivered late'")).toBe(false);

    // A connection opened meanwhile is accepted but not passed on: its startup message is held too.
    const late = new pg.Client({ connectionString: proxy.url('pg', url) });
    late.on('error', () => {});
    clients.push(late);
    const connecting = track(late.connect());
    await proxy.until('pg', (s) => s.accepted === 2 && s.heldToServer > held.heldToServer);
    expect(connecting.state.settled).toBe(false);

    await proxy.set('pg', 'pass');
    await query.done;
    expect(query.state.value?.rows).toEqual([{ body: 'delivered late' }]);
    await connecting.done;
    expect(connecting.state.error).toBeUndefined();
    expect((await late.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    expect(proxy.stats('pg')).toMatchObject({ heldToServer: 0, heldToClient: 0, resets: 0 });
  });

  it("blackhole healed with 'lose': connections that had bytes held are reset, idle ones go on", async () => {
    const busy = await proxiedClient();
    const idle = await proxiedClient();
    await proxy.set('pg', { mode: 'blackhole', onHeal: 'lose' });
    const query = track(busy.query("SELECT 'never delivered'"));
    await proxy.until('pg', (s) => s.heldToServer > 0);
    expect(query.state.settled).toBe(false);

    await proxy.set('pg', 'pass');
    await query.done;
    expect(isConnectionLoss(query.state.error)).toBe(true);
    expect(await serverRuns("'never delivered'")).toBe(false);
    expect(proxy.stats('pg')).toMatchObject({ resets: 1, open: 1, heldToServer: 0 });
    expect((await idle.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
  });

  it('latency: a round trip takes at least twice the delay', async () => {
    const client = await proxiedClient();
    await proxy.set('pg', { mode: 'latency', ms: 150 });
    const started = performance.now();
    await client.query('SELECT 1');
    // The query waits 150 ms on its way in, the answer (sent only after it) 150 ms on its way out.
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    await proxy.set('pg', 'pass');
    expect((await client.query('SELECT 4 AS four')).rows).toEqual([{ four: 4 }]);
  });

  it('cut-after: a statement cut after 10 bytes never runs', async () => {
    const client = await proxiedClient();
    const before = proxy.stats('pg').bytesToServer;
    await proxy.set('pg', { mode: 'cut-after', bytes: 10, direction: 'to-server' });
    const error = await client
      .query("INSERT INTO notes VALUES (1, 'cut mid-statement')")
      .catch((e: unknown) => e);
    expect(isConnectionLoss(error)).toBe(true);
    expect(proxy.stats('pg')).toMatchObject({ resets: 1, bytesToServer: before + 10 });
    const { rows } = await dbs.on('a').pool.query('SELECT count(*)::int AS n FROM notes WHERE id = 1');
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('cut-after: a PREPARE TRANSACTION cut mid-statement leaves nothing prepared and nothing written', async () => {
    const client = await proxiedClient();
    await client.query('BEGIN');
    await client.query("INSERT INTO notes VALUES (2, 'in a cut prepare')");
    await proxy.set('pg', { mode: 'cut-after', bytes: 12, direction: 'to-server' });
    const error = await client
      .query("PREPARE TRANSACTION 'fault-proxy-cut-prepare'")
      .catch((e: unknown) => e);
    expect(isConnectionLoss(error)).toBe(true);
    // The server rolls the transaction back when it reads the reset; wait for its backend to go.
    await waitFor('the cut session to end', async () => !(await serverRuns('in a cut prepare')));
    expect(await listPreparedTransactions(dbs.on('a').pool, dbs.on('a').database)).toEqual([]);
    const { rows } = await dbs.on('a').pool.query('SELECT count(*)::int AS n FROM notes WHERE id = 2');
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('cut-after with connections: 1 cuts only the next connection, in the direction given', async () => {
    const open = await proxiedClient();
    await proxy.set('pg', { mode: 'cut-after', bytes: 3, direction: 'to-client', connections: 1 });
    const first = new pg.Client({ connectionString: proxy.url('pg', url) });
    first.on('error', () => {});
    expect(isConnectionLoss(await first.connect().catch((e: unknown) => e))).toBe(true);
    const second = await proxiedClient();
    expect((await second.query('SELECT 5 AS five')).rows).toEqual([{ five: 5 }]);
    expect((await open.query('SELECT 6 AS six')).rows).toEqual([{ six: 6 }]);
    expect(proxy.stats('pg').resets).toBe(1);
  });

  it('switches modes while queries flow, and every query ends with its own answer', async () => {
    const client = await proxiedClient();
    const answers: number[] = [];
    // The queries flow until every switch is done (a fixed count could all be answered before the blackhole on
    // a fast run, leaving nothing to hold); the loop's own bound stops it in any case.
    let switched = false;
    const flow = (async () => {
      for (let i = 0; !switched && i < 100_000; i += 1)
        answers.push((await client.query('SELECT $1::int AS i', [i])).rows[0].i);
    })();
    const switches = async () => {
      await waitFor('the first queries', () => answers.length >= 5);
      await proxy.set('pg', { mode: 'latency', ms: 20 });
      const beforeLatency = answers.length;
      await waitFor('queries under latency', () => answers.length >= beforeLatency + 5);
      await proxy.set('pg', 'blackhole');
      // A query or its answer is held, whichever was on its way.
      await proxy.until('pg', (s) => s.heldToServer + s.heldToClient > 0);
      const held = answers.length;
      await proxy.set('pg', { mode: 'latency', ms: 5 });
      await waitFor('queries after the blackhole', () => answers.length >= held + 10);
      await proxy.set('pg', 'pass');
      const passed = answers.length;
      await waitFor('queries after the pass', () => answers.length >= passed + 5);
      switched = true;
    };
    await Promise.all([flow, switches()]);
    expect(answers.length).toBeGreaterThan(25);
    expect(answers).toEqual(Array.from({ length: answers.length }, (_, i) => i));
  });

  it('close() resets every connection, closes the listeners, leaves no handle open, and is idempotent', async () => {
    const tcpHandles = () =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length;
    await proxy.close();
    const baseline = tcpHandles();
    proxy = await startFaultProxy({ upstreams: { pg: url } });
    const active = await proxiedClient();
    await proxy.set('pg', 'blackhole');
    const waiting = new pg.Client({ connectionString: proxy.url('pg', url) });
    waiting.on('error', () => {});
    const connecting = track(waiting.connect());
    await proxy.until('pg', (s) => s.heldToServer > 0);
    const ended = next(active, 'end');
    const port = proxy.address('pg').port;

    const closing = proxy.close();
    expect(proxy.close()).toBe(closing);
    await closing;
    await ended;
    await connecting.done;
    expect(isConnectionLoss(connecting.state.error)).toBe(true);
    await expect(proxy.set('pg', 'pass')).rejects.toThrow(/closed/);
    const refused = tcpConnect({ host: '127.0.0.1', port });
    const [refusal] = await once(refused, 'error');
    expect((refusal as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    // At most the baseline: an idle pooled connection of the test's own pools may time out meanwhile.
    await waitFor('the sockets to close', () => tcpHandles() <= baseline);
  });

  it('until() rejects when its deadline passes', async () => {
    await expect(proxy.until('pg', (s) => s.accepted > 0, 50)).rejects.toThrow(/not in the awaited state/);
  });
});

describe('fault proxy, protocol-agnostic (an echo server on loopback)', () => {
  let echo: Server;
  let proxy: FaultProxy;

  beforeAll(async () => {
    // Echoes every byte; answers a FIN with a FIN once it echoed everything (a half-closed connection).
    echo = createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('error', () => {});
      socket.pipe(socket);
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
  });
  afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())));
  beforeEach(async () => {
    const address = echo.address();
    if (typeof address !== 'object' || !address) throw new Error('echo server not listening');
    proxy = await startFaultProxy({ upstreams: { echo: { host: '127.0.0.1', port: address.port } } });
  });
  afterEach(() => proxy.close());

  async function open(): Promise<{ socket: Socket; received: () => string; ended: Promise<unknown> }> {
    const socket = tcpConnect({ ...proxy.address('echo'), allowHalfOpen: true });
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    const ended = next(socket, 'end');
    await once(socket, 'connect');
    return { socket, received: () => text, ended };
  }

  it('keeps the order of the stream when a shorter latency follows a longer one', async () => {
    const { socket, received } = await open();
    await proxy.set('echo', { mode: 'latency', ms: 200 });
    socket.write('first;');
    await proxy.until('echo', (s) => s.heldToServer > 0);
    await proxy.set('echo', { mode: 'latency', ms: 0 });
    socket.write('second;');
    await waitFor('both echoes', () => received().length >= 'first;second;'.length);
    expect(received()).toBe('first;second;');
    socket.destroy();
  });

  it('passes a half-close (FIN) on, in order, and holds it in a blackhole until the heal', async () => {
    const { socket, received, ended } = await open();
    await proxy.set('echo', 'blackhole');
    socket.end('bye');
    await proxy.until('echo', (s) => s.heldToServer === 3);
    const end = track(ended);
    expect(end.state.settled).toBe(false);
    await proxy.set('echo', 'pass');
    await ended;
    expect(received()).toBe('bye');
    await proxy.until('echo', (s) => s.open === 0);
  });

  it('cut-after to-server delivers exactly N bytes of a chunk, then resets the client', async () => {
    const { socket, received } = await open();
    await proxy.set('echo', { mode: 'cut-after', bytes: 4, direction: 'to-server' });
    const reset = next(socket, 'close');
    socket.write('abcdefgh');
    await reset;
    expect(proxy.stats('echo')).toMatchObject({ bytesToServer: 4, resets: 1, open: 0 });
    // The echo of the 4 bytes may or may not win the race against the reset; nothing beyond them can come.
    expect('abcd'.startsWith(received())).toBe(true);
  });
});

describe('fault proxy in front of RabbitMQ', () => {
  let proxy: FaultProxy;

  beforeAll(() => assertRabbitMqReachable());
  beforeEach(async () => {
    proxy = await startFaultProxy({ upstreams: { amqp: testAmqpUrl() } });
  });
  afterEach(() => proxy.close());

  it('publishes with confirms through latency and a healed blackhole, then a cut closes the connection', async () => {
    const connection = await amqpConnect(proxy.url('amqp', testAmqpUrl()));
    connection.on('error', () => {});
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => {});
    const { queue } = await channel.assertQueue('', { exclusive: true });

    const publish = (i: number) =>
      new Promise<void>((resolve, reject) =>
        channel.sendToQueue(queue, Buffer.from(String(i)), {}, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
    const confirmed: Promise<void>[] = [];
    for (let i = 0; i < 10; i += 1) confirmed.push(publish(i));
    await proxy.set('amqp', { mode: 'latency', ms: 30 });
    for (let i = 10; i < 20; i += 1) confirmed.push(publish(i));
    await proxy.set('amqp', 'blackhole');
    for (let i = 20; i < 30; i += 1) confirmed.push(publish(i));
    await proxy.until('amqp', (s) => s.heldToServer > 0);
    await proxy.set('amqp', 'pass');
    await Promise.all(confirmed);

    const bodies: string[] = [];
    for (let i = 0; i < 30; i += 1) {
      const message = await channel.get(queue, { noAck: true });
      if (message) bodies.push(message.content.toString());
    }
    expect(bodies).toEqual(Array.from({ length: 30 }, (_, i) => String(i)));

    const closed = next(connection, 'close');
    await proxy.set('amqp', 'cut');
    await closed;
    await expect(amqpConnect(proxy.url('amqp', testAmqpUrl()))).rejects.toThrow();
    expect(proxy.stats('amqp').resets).toBe(2);
  });
});

describe('fault proxy under a 2PC transaction (payments behind the proxy)', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;
  let proxy: FaultProxy;
  let payments: pg.Pool;

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, 'fault proxy 2pc');
    await dbs.on('a').pool.query('CREATE TABLE seats (booking text PRIMARY KEY)');
    await dbs.on('b').pool.query('CREATE TABLE payments (booking text PRIMARY KEY)');
  });
  afterAll(() => dbs.drop());
  beforeEach(async () => {
    proxy = await startFaultProxy({ upstreams: { payments: dbs.on('b').connectionString } });
    payments = new pg.Pool({ connectionString: proxy.url('payments', dbs.on('b').connectionString) });
    payments.on('error', () => {});
  });
  afterEach(async () => {
    await proxy.close();
    await payments.end();
  });

  const coordinator = (id: string, faults?: FaultHook) =>
    new TwoPhaseCoordinator({
      id,
      participants: { seats: dbs.on('a').pool, payments },
      log: dbs.on('c').pool,
      ...(faults ? { faults } : {}),
    });
  const book =
    (booking: string) => async (tx: Parameters<Parameters<TwoPhaseCoordinator['transaction']>[0]>[0]) => {
      await tx.query('seats', 'INSERT INTO seats VALUES ($1)', [booking]);
      await tx.query('payments', 'INSERT INTO payments VALUES ($1)', [booking]);
    };
  const written = async (booking: string) => {
    const count = async (db: string, table: string) =>
      (await dbs.on(db).pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE booking = $1`, [booking]))
        .rows[0].n;
    return [await count('a', 'seats'), await count('b', 'payments')];
  };

  it('waits through a blackholed payments server and commits on both once the network heals', async () => {
    const app = coordinator('proxy-heal');
    await app.migrate();
    await proxy.set('payments', 'blackhole');
    const transaction = track(app.transaction(book('healed')));
    await proxy.until('payments', (s) => s.heldToServer > 0);
    expect(transaction.state.settled).toBe(false);
    await proxy.set('payments', 'pass');
    await transaction.done;
    expect(transaction.state.error).toBeUndefined();
    expect(await written('healed')).toEqual([1, 1]);
  });

  it('a fault hook cuts payments before its COMMIT PREPARED; recovery commits the branch once it passes again', async () => {
    const cutBeforeCommit: FaultHook = async (site) => {
      if (site.point === '2pc:before-commit' && site.participant === 'payments')
        await proxy.set('payments', 'cut');
    };
    const app = coordinator('proxy-cut', cutBeforeCommit);
    await app.migrate();
    // Committed or in doubt, depending on when the coordinator gives up on the cut branch: never rolled back.
    await app.transaction(book('cut')).catch(() => {});
    expect(proxy.stats('payments').resets).toBeGreaterThan(0);
    await proxy.set('payments', 'pass');
    await app.recover();
    expect(await written('cut')).toEqual([1, 1]);
    expect(await listPreparedTransactions(dbs.on('b').pool, dbs.on('b').database)).toEqual([]);
  });
});

describe('fault schedules', () => {
  it('draws the same schedule from the same seed, sorted, within the duration', () => {
    const options = { seed: 11, upstreams: ['seats', 'payments'], durationMs: 500, steps: 20 };
    const schedule = randomFaultSchedule(options);
    expect(randomFaultSchedule(options)).toEqual(schedule);
    expect(schedule).toHaveLength(20);
    expect(schedule.map((s) => s.atMs)).toEqual([...schedule.map((s) => s.atMs)].sort((a, b) => a - b));
    for (const step of schedule) {
      expect(step.atMs).toBeGreaterThanOrEqual(0);
      expect(step.atMs).toBeLessThan(500);
      expect(['seats', 'payments']).toContain(step.upstream);
    }
    expect(randomFaultSchedule({ ...options, seed: 12 })).not.toEqual(schedule);
  });

  it('plays a schedule in order, ends in pass by itself, and stop() skips what is not yet due', async () => {
    const proxy = await startFaultProxy({
      upstreams: { x: { host: '127.0.0.1', port: 9 }, y: { host: '127.0.0.1', port: 9 } },
    });
    try {
      const seen: string[] = [];
      const schedule = [
        { atMs: 0, upstream: 'x', mode: 'blackhole' as const },
        { atMs: 20, upstream: 'y', mode: { mode: 'latency' as const, ms: 10 } },
        { atMs: 40, upstream: 'x', mode: 'cut' as const },
      ];
      const playback = playFaultSchedule(proxy, schedule);
      const watch = proxy.until('x', (s) => {
        if (seen.at(-1) !== s.mode.mode) seen.push(s.mode.mode);
        return seen.length === 3;
      });
      await playback.done;
      await watch;
      expect(seen).toEqual(['pass', 'blackhole', 'cut']);
      expect(playback.applied).toEqual(schedule);
      expect([proxy.stats('x').mode, proxy.stats('y').mode]).toEqual([{ mode: 'pass' }, { mode: 'pass' }]);

      const long = playFaultSchedule(proxy, [
        { atMs: 0, upstream: 'x', mode: 'blackhole' },
        { atMs: 3_600_000, upstream: 'x', mode: 'cut' },
      ]);
      await proxy.until('x', (s) => s.mode.mode === 'blackhole');
      await long.stop();
      expect(long.applied).toHaveLength(1);
      expect(proxy.stats('x').mode).toEqual({ mode: 'pass' });
    } finally {
      await proxy.close();
    }
  });
});
