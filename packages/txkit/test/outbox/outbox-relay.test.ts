import type pg from 'pg';
import { Pool as PgPool } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dropDuplicates } from '../../src/bus/dedupe.js';
import { InProcessBus } from '../../src/bus/in-process-bus.js';
import type { BusMessage, MessageBus } from '../../src/bus/message-bus.js';
import { withTransaction } from '../../src/db/queryable.js';
import { type FaultHook, SimulatedCrash } from '../../src/faults.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { OutboxRelay, type OutboxRelayOptions } from '../../src/outbox/outbox-relay.js';
import { AmqpConnection } from '../../src/rabbitmq/amqp-connection.js';
import { RabbitMqBus } from '../../src/rabbitmq/rabbitmq-bus.js';
import {
  assertRabbitMqReachable,
  createTestDatabases,
  type TestDatabases,
  testAmqpUrl,
  testCluster,
} from '../../src/testing/index.js';
import { closeConnectionsFromServer, deleteQueues, uniqueName } from '../support/broker-control.js';
import { handledUpTo, recordInto } from '../support/queue-marker.js';

const prefix = uniqueName('outbox');
const exchange = `${prefix}.events`;
let dbs: TestDatabases;
let pool: pg.Pool;
let schemaCounter = 0;
const queues: string[] = [];
let cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  await assertRabbitMqReachable();
  dbs = await createTestDatabases(testCluster(), 'outbox relay');
  pool = dbs.on('a').pool;
});
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});
afterAll(async () => {
  await deleteQueues(queues);
  await dbs?.drop();
});

/** A fresh outbox in a schema of its own, so tests never see each other's rows. */
async function freshOutbox(): Promise<Outbox> {
  const outbox = new Outbox({ schema: `outbox_${++schemaCounter}` });
  await outbox.migrate(pool);
  return outbox;
}

function amqp(label: string): AmqpConnection {
  const connection = new AmqpConnection({
    url: testAmqpUrl(),
    name: `${prefix}.${label}`,
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
  });
  connection.on('error', () => {});
  cleanup.push(() => connection.close());
  return connection;
}

function relay(outbox: Outbox, bus: MessageBus, options: Partial<OutboxRelayOptions> = {}): OutboxRelay {
  const relay = new OutboxRelay({ pool, bus, schema: outbox.schemaName, ...options });
  cleanup.push(() => relay.stop());
  return relay;
}

/** Subscribes a fresh durable queue to every topic and collects what arrives (see handledUpTo). */
async function collect(bus: MessageBus, label: string, options: { dedupe?: boolean } = {}) {
  const received: BusMessage[] = [];
  const queue = `${prefix}.${label}`;
  queues.push(queue);
  const record = recordInto(received);
  const subscription = await bus.subscribe(
    { queue, topics: ['#'] },
    options.dedupe ? dropDuplicates(record) : record,
  );
  cleanup.push(() => subscription.cancel());
  return received;
}

/**
 * Relays until `expected` rows went out. The dead relay's connection was destroyed, but its server process may
 * hold its row and key locks a moment longer, until it notices; until then the rows are (rightly) skipped.
 */
async function relayAll(r: OutboxRelay, expected: number): Promise<number> {
  let total = 0;
  await expect
    .poll(async () => {
      total += await r.relayOnce();
      return total;
    })
    .toBeGreaterThanOrEqual(expected);
  return total;
}

/** Waits until one relay connection of this database is listening. */
async function untilListening(): Promise<void> {
  const listening = async () =>
    (
      await pool.query(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query = $1',
        ['LISTEN txkit_outbox'],
      )
    ).rows[0].n;
  await expect.poll(listening).toBe(1);
}

async function enqueueMany(outbox: Outbox, count: number, keys: readonly string[]): Promise<void> {
  await withTransaction(pool, async (client) => {
    for (let i = 0; i < count; i++) {
      const key = keys[i % keys.length]!;
      await outbox.enqueue(client, 'seq.event', { key, seq: Math.floor(i / keys.length) }, { key });
    }
  });
}

describe('OutboxRelay over RabbitMQ', () => {
  it('publishes committed events with their message id, key and headers, and nothing of a rollback', async () => {
    const outbox = await freshOutbox();
    const connection = amqp('basic');
    const bus = new RabbitMqBus(connection, { exchange });
    await connection.connect();
    const received = await collect(bus, 'basic');

    const committed = await withTransaction(pool, (client) =>
      outbox.enqueue(client, 'seat.booked', { seat: 'A1' }, { key: 'screening-1', headers: { v: '1' } }),
    );
    await withTransaction(pool, async (client) => {
      await outbox.enqueue(client, 'seat.booked', { seat: 'ROLLED-BACK' }, { key: 'screening-1' });
      throw new Error('business write failed');
    }).catch(() => {});

    const r = relay(outbox, bus);
    expect(await r.relayOnce()).toBe(1);
    await expect.poll(() => received.length).toBe(1);
    expect(received[0]).toMatchObject({
      topic: 'seat.booked',
      messageId: committed.messageId,
      key: 'screening-1',
      payload: { seat: 'A1' },
      headers: { v: '1' },
      redelivered: false,
    });
    expect(await r.pendingCount()).toBe(0);
    expect(await r.relayOnce()).toBe(0);
  });

  it('wakes on NOTIFY at commit, with polling far away', async () => {
    const outbox = await freshOutbox();
    const connection = amqp('notify');
    const bus = new RabbitMqBus(connection, { exchange });
    await connection.connect();
    const received = await collect(bus, 'notify');
    const r = relay(outbox, bus, { pollIntervalMs: 600_000 });
    const passes: number[] = [];
    r.on('published', ({ count }) => passes.push(count));
    r.start();
    // Once the first (immediate) pass listens, only a notification can wake the relay.
    await untilListening();
    await enqueueMany(outbox, 3, ['k']);
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(3);
  });

  it('falls back to polling without LISTEN', async () => {
    const outbox = await freshOutbox();
    const bus = new RabbitMqBus(amqp('poll'), { exchange });
    const received = await collect(bus, 'poll');
    relay(outbox, bus, { listen: false, pollIntervalMs: 50 }).start();
    await enqueueMany(outbox, 5, ['k']);
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(5);
  });

  it('keeps per-key order with three relays on separate connections, publishing each row once', async () => {
    const outbox = await freshOutbox();
    // Few keys and small batches: the relays constantly compete for the same keys.
    const keys = ['k1', 'k2', 'k3'];
    await enqueueMany(outbox, 600, keys);
    const consumerConnection = amqp('order-consumer');
    const consumerBus = new RabbitMqBus(consumerConnection, { exchange });
    const received = await collect(consumerBus, 'order');
    // Open, the connection has bound the queue: the relays' messages published before that would be dropped.
    await consumerConnection.connect();
    const published = [0, 0, 0];
    const relays: OutboxRelay[] = [];
    for (const n of [0, 1, 2]) {
      const bus = new RabbitMqBus(amqp(`order-relay-${n}`), { exchange });
      await bus.publish({ topic: 'warm-up', messageId: `warm-up-${n}`, payload: null });
      const r = relay(outbox, bus, { batchSize: 5, pollIntervalMs: 1, listen: false });
      r.on('published', ({ count }) => {
        published[n]! += count;
      });
      r.start();
      relays.push(r);
    }
    await expect
      .poll(() => received.filter((m) => m.topic === 'seq.event').length, { timeout: 20_000 })
      .toBe(600);
    // A batch reaches the consumer before its relay marks it sent and reports it. Stopped (each after its pass in
    // progress), the relays report and publish nothing more; the marker then shows that the queue has handed over
    // everything they published.
    for (const r of relays) await r.stop();
    await handledUpTo(consumerBus, received);
    expect(received.filter((m) => m.topic === 'seq.event')).toHaveLength(600);
    expect(published.reduce((a, b) => a + b, 0)).toBe(600);
    // At least two relays took part, or the test proves nothing about concurrent relays.
    expect(published.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
    for (const key of keys) {
      const seqs = received.filter((m) => m.key === key).map((m) => (m.payload as { seq: number }).seq);
      expect(seqs).toEqual([...Array(200).keys()]);
    }
    expect(new Set(received.map((m) => m.messageId)).size).toBe(received.length);
  });

  it('re-publishes a batch whose relay died after the confirms and before marking it sent; a deduplicating consumer sees it once', async () => {
    const outbox = await freshOutbox();
    const bus = new RabbitMqBus(amqp('crash'), { exchange });
    const everything = await collect(bus, 'crash-raw');
    const deduped = await collect(bus, 'crash-deduped', { dedupe: true });
    await enqueueMany(outbox, 10, ['a', 'b']);

    const crash: FaultHook = (site) => {
      if (site.point === 'outbox:after-publish') throw new SimulatedCrash(site);
    };
    const dying = relay(outbox, bus, { faults: crash, name: 'dying' });
    await expect(dying.relayOnce()).rejects.toBeInstanceOf(SimulatedCrash);
    // The broker has them, the table still says pending: the crash window.
    await expect.poll(() => everything.length).toBe(10);
    expect(await dying.pendingCount()).toBe(10);

    const survivor = relay(outbox, bus, { name: 'survivor' });
    expect(await relayAll(survivor, 10)).toBe(10);
    await expect.poll(() => everything.length).toBe(20);
    expect(everything.filter((m) => m.redelivered)).toEqual([]);
    expect(new Set(everything.map((m) => m.messageId)).size).toBe(10);
    // Every copy has gone through the deduplicating consumer by the time a later marker has.
    await handledUpTo(bus, everything, deduped);
    expect(everything).toHaveLength(20);
    expect(deduped).toHaveLength(10);
    expect(new Set(deduped.map((m) => m.messageId)).size).toBe(10);
    expect(await survivor.pendingCount()).toBe(0);
  });

  it('publishes nothing and keeps the rows pending when it dies before publishing', async () => {
    const outbox = await freshOutbox();
    const bus = new RabbitMqBus(amqp('crash-before'), { exchange });
    const everything = await collect(bus, 'crash-before');
    await enqueueMany(outbox, 4, ['a']);
    const dying = relay(outbox, bus, {
      faults: (site) => {
        if (site.point === 'outbox:before-publish') throw new SimulatedCrash(site);
      },
    });
    await expect(dying.relayOnce()).rejects.toBeInstanceOf(SimulatedCrash);
    expect(await dying.pendingCount()).toBe(4);
    expect(await relayAll(relay(outbox, bus), 4)).toBe(4);
    await expect.poll(() => everything.length).toBe(4);
    // Had the dying relay published anything, it would have arrived before a later marker.
    await handledUpTo(bus, everything);
    expect(everything).toHaveLength(4);
  });

  it('delivers every event across a connection cut from the broker side', async () => {
    const outbox = await freshOutbox();
    const relayConnection = amqp('cut-relay');
    const bus = new RabbitMqBus(relayConnection, { exchange });
    const consumerConnection = amqp('cut-consumer');
    const consumerBus = new RabbitMqBus(consumerConnection, { exchange });
    const deduped = await collect(consumerBus, 'cut', { dedupe: true });
    await consumerConnection.connect();
    const r = relay(outbox, bus, { batchSize: 20, pollIntervalMs: 50 });
    const errors: unknown[] = [];
    r.on('error', (error) => errors.push(error));
    let cut = false;
    r.on('published', () => {
      if (cut) return;
      cut = true;
      void closeConnectionsFromServer(`${prefix}.cut-relay`);
    });
    await enqueueMany(outbox, 600, ['a', 'b', 'c']);
    r.start();
    await expect.poll(() => deduped.length, { timeout: 30_000 }).toBe(600);
    // The last batch may be consumed before its mark-sent commits.
    await expect.poll(() => r.pendingCount()).toBe(0);
    for (const key of ['a', 'b', 'c']) {
      const seqs = deduped.filter((m) => m.key === key).map((m) => (m.payload as { seq: number }).seq);
      expect(seqs).toEqual([...Array(200).keys()]);
    }
  });

  it('deletes sent rows after the retention period, never pending ones', async () => {
    const outbox = await freshOutbox();
    const bus = new RabbitMqBus(amqp('retention'), { exchange });
    await enqueueMany(outbox, 6, ['a']);
    const r = relay(outbox, bus, { retentionMs: 60_000 });
    expect(await r.relayOnce()).toBe(6);
    await enqueueMany(outbox, 2, ['a']);
    const table = `outbox_${schemaCounter}`;
    // Age four of the sent rows past the retention period.
    await pool.query(
      `UPDATE ${table}.outbox SET sent_at = now() - interval '2 minutes' WHERE id IN (SELECT id FROM ${table}.outbox WHERE sent_at IS NOT NULL ORDER BY id LIMIT 4)`,
    );
    await withTransaction(pool, (client) => outbox.acceptOnce(client, 'c', 'm-old'));
    await pool.query(`UPDATE ${table}.inbox SET processed_at = now() - interval '2 minutes'`);
    await withTransaction(pool, (client) => outbox.acceptOnce(client, 'c', 'm-new'));

    expect(await r.cleanupOnce()).toEqual({ outbox: 4, inbox: 1 });
    const { rows } = await pool.query(
      `SELECT count(*) FILTER (WHERE sent_at IS NULL)::int AS pending, count(*)::int AS total FROM ${table}.outbox`,
    );
    expect(rows[0]).toEqual({ pending: 2, total: 4 });
  });
});

describe('OutboxRelay without a broker', () => {
  it('relays to the in-process bus, woken by NOTIFY', async () => {
    const outbox = await freshOutbox();
    const bus = new InProcessBus();
    const received = await collect(bus, 'in-process');
    relay(outbox, bus, { pollIntervalMs: 600_000 }).start();
    await untilListening();
    await enqueueMany(outbox, 4, ['a', 'b']);
    await expect.poll(() => received.length, { timeout: 5_000 }).toBe(4);
    expect(received.filter((m) => m.key === 'a').map((m) => m.payload)).toEqual([
      { key: 'a', seq: 0 },
      { key: 'a', seq: 1 },
    ]);
  });
});

describe('OutboxRelay statements', () => {
  it('a pass claims in one statement and marks sent in one (its commit skipping the WAL flush); an empty pass is three', async () => {
    const outbox = await freshOutbox();
    const counted = new PgPool({ connectionString: dbs.on('a').connectionString, max: 1 });
    cleanup.push(() => counted.end());
    const statements: string[] = [];
    counted.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        const first = args[0] as string | { text: string };
        statements.push((typeof first === 'string' ? first : first.text).trim().replace(/\s+/g, ' '));
        return query(...args);
      };
    });
    const r = new OutboxRelay({
      pool: counted,
      bus: new InProcessBus(),
      schema: outbox.schemaName,
      listen: false,
    });
    await enqueueMany(outbox, 3, ['a', 'b']);
    expect(await r.relayOnce()).toBe(3);
    const opening = (sql: string) => sql.split(' ').slice(0, 3).join(' ');
    expect(statements.map(opening)).toEqual(['BEGIN', 'WITH locked AS', 'WITH relaxed AS', 'COMMIT']);
    expect(statements[2]).toContain("set_config('synchronous_commit', 'off', true)");
    statements.length = 0;
    expect(await r.relayOnce()).toBe(0);
    expect(statements.map(opening)).toEqual(['BEGIN', 'WITH locked AS', 'COMMIT']);
  });
});

describe('Outbox.acceptOnce (inbox)', () => {
  it('accepts a message id once per consumer, and forgets it when the consumer transaction rolls back', async () => {
    const outbox = await freshOutbox();
    await withTransaction(pool, async (client) => {
      expect(await outbox.acceptOnce(client, 'read-model', 'm1')).toBe(true);
      throw new Error('consumer failed');
    }).catch(() => {});
    expect(await withTransaction(pool, (client) => outbox.acceptOnce(client, 'read-model', 'm1'))).toBe(true);
    expect(await withTransaction(pool, (client) => outbox.acceptOnce(client, 'read-model', 'm1'))).toBe(
      false,
    );
    expect(await withTransaction(pool, (client) => outbox.acceptOnce(client, 'audit', 'm1'))).toBe(true);
  });
});
