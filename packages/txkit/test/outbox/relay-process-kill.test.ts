import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropDuplicates } from '../../src/bus/dedupe.js';
import type { BusMessage } from '../../src/bus/message-bus.js';
import { withTransaction } from '../../src/db/queryable.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { OutboxRelay } from '../../src/outbox/outbox-relay.js';
import { AmqpConnection } from '../../src/rabbitmq/amqp-connection.js';
import { RabbitMqBus } from '../../src/rabbitmq/rabbitmq-bus.js';
import {
  assertRabbitMqReachable,
  createTestDatabases,
  type TestDatabases,
  testAmqpUrl,
  testCluster,
} from '../../src/testing/index.js';
import { deleteQueues, uniqueName } from '../support/broker-control.js';
import { type BundledFixture, bundleFixture } from '../support/bundle-fixture.js';
import { handledUpTo, recordInto } from '../support/queue-marker.js';

/**
 * Real process death between the broker's confirms and the commit that marks the batch sent: the kernel closes
 * the relay's connections, PostgreSQL rolls its claim back, and the rows are published again.
 */
describe('an outbox relay process killed after publishing, before marking sent', () => {
  const prefix = uniqueName('relay-kill');
  const exchange = `${prefix}.events`;
  const schema = 'outbox_kill';
  let dbs: TestDatabases;
  let fixture: BundledFixture;

  beforeAll(async () => {
    await assertRabbitMqReachable();
    dbs = await createTestDatabases(testCluster(), 'relay process kill');
    fixture = await bundleFixture(new URL('./fixtures/doomed-relay.ts', import.meta.url));
  });
  afterAll(async () => {
    await deleteQueues([`${prefix}.raw`, `${prefix}.deduped`]);
    await dbs?.drop();
    await fixture?.remove();
  });

  it('re-publishes the batch with the same message ids; a deduplicating consumer sees each event once', async () => {
    const { pool, connectionString } = dbs.on('a');
    const outbox = new Outbox({ schema });
    await outbox.migrate(pool);
    const enqueued = await withTransaction(pool, async (client) => {
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) {
        ids.push((await outbox.enqueue(client, 'seat.booked', { i }, { key: `k${i % 3}` })).messageId);
      }
      return ids;
    });

    const amqp = new AmqpConnection({ url: testAmqpUrl(), name: `${prefix}.consumer` });
    const bus = new RabbitMqBus(amqp, { exchange });
    const raw: BusMessage[] = [];
    const deduped: BusMessage[] = [];
    const subscriptions = [
      await bus.subscribe({ queue: `${prefix}.raw`, topics: ['#'] }, recordInto(raw)),
      await bus.subscribe({ queue: `${prefix}.deduped`, topics: ['#'] }, dropDuplicates(recordInto(deduped))),
    ];
    await amqp.connect();

    const config = {
      connectionString,
      amqpUrl: testAmqpUrl(),
      connectionName: `${prefix}.doomed`,
      exchange,
      schema,
    };
    const child = spawn(process.execPath, [fixture.file, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('published')) resolve();
      });
      child.once('exit', (code) =>
        reject(new Error(`relay exited with ${code} before publishing: ${stderr}`)),
      );
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    // Confirmed by the broker, never marked sent.
    await expect.poll(() => raw.length).toBe(25);
    const survivor = new OutboxRelay({ pool, bus, schema, listen: false, pollIntervalMs: 50 });
    survivor.start();
    try {
      await expect.poll(() => survivor.pendingCount(), { timeout: 20_000 }).toBe(0);
      await expect.poll(() => raw.length).toBe(50);
      // Every copy has gone through the deduplicating consumer by the time a later marker has.
      await handledUpTo(bus, raw, deduped);
      expect(raw).toHaveLength(50);
      expect(deduped.map((m) => m.messageId).sort()).toEqual([...enqueued].sort());
      expect(new Set(raw.map((m) => m.messageId))).toEqual(new Set(enqueued));
      for (const key of ['k0', 'k1', 'k2']) {
        const seqs = deduped.filter((m) => m.key === key).map((m) => (m.payload as { i: number }).i);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      }
    } finally {
      await survivor.stop();
      for (const subscription of subscriptions) await subscription.cancel();
      await amqp.close();
    }
  });
});
