import type { ConsumeMessage } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TransportError } from '../../src/errors.js';
import { AmqpConnection } from '../../src/rabbitmq/amqp-connection.js';
import { testAmqpUrl } from '../../src/testing/index.js';
import { assertRabbitMqReachable } from '../../src/testing/rabbitmq.js';
import { closeConnectionsFromServer, deleteQueues, uniqueName } from '../support/broker-control.js';

const prefix = uniqueName('amqp-connection');
const durableQueues: string[] = [];
let open: AmqpConnection[] = [];

function connection(label: string): AmqpConnection {
  const amqp = new AmqpConnection({
    url: testAmqpUrl(),
    name: `${prefix}.${label}`,
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
  });
  open.push(amqp);
  return amqp;
}

function nextMessage(received: ConsumeMessage[], count = received.length + 1): Promise<void> {
  return expect.poll(() => received.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(count);
}

beforeAll(() => assertRabbitMqReachable());
afterEach(async () => {
  await Promise.all(open.map((amqp) => amqp.close()));
  open = [];
});
afterAll(() => deleteQueues(durableQueues));

describe('AmqpConnection', () => {
  it('publishes with confirms and consumes with manual acks', async () => {
    const amqp = connection('basic');
    const queue = `${prefix}.basic`;
    durableQueues.push(queue);
    await amqp.addTopology(async (ch) => {
      await ch.assertQueue(queue, { durable: true });
    });
    await amqp.connect();
    const received: ConsumeMessage[] = [];
    await amqp.consume(queue, async (message) => {
      received.push(message);
    });
    await Promise.all(
      [1, 2, 3].map((n) => amqp.publish('', queue, Buffer.from(String(n)), { persistent: true })),
    );
    await nextMessage(received, 3);
    expect(received.map((m) => m.content.toString()).sort()).toEqual(['1', '2', '3']);
    expect(received.every((m) => m.properties.deliveryMode === 2)).toBe(true);
  });

  it('reconnects after the broker closes the connection, re-declares the topology and restarts consumers', async () => {
    const amqp = connection('reconnect');
    // Exclusive: the broker deletes it with the connection, so it only exists again if the topology is re-run.
    const queue = `${prefix}.reconnect-exclusive`;
    await amqp.addTopology(async (ch) => {
      await ch.assertQueue(queue, { exclusive: true });
    });
    const events: string[] = [];
    amqp.on('connected', () => events.push('connected'));
    amqp.on('disconnected', () => events.push('disconnected'));
    await amqp.connect();
    const received: ConsumeMessage[] = [];
    await amqp.consume(queue, async (message) => {
      received.push(message);
    });
    await amqp.publish('', queue, Buffer.from('before'));
    await nextMessage(received, 1);

    expect(await closeConnectionsFromServer(`${prefix}.reconnect`)).toBe(1);
    await expect.poll(() => events, { timeout: 10_000 }).toEqual(['connected', 'disconnected', 'connected']);
    await amqp.publish('', queue, Buffer.from('after'));
    await nextMessage(received, 2);
    expect(received.map((m) => m.content.toString())).toEqual(['before', 'after']);
  });

  it('has a message redelivered when the connection drops while its handler runs, and acks it after', async () => {
    const amqp = connection('redeliver');
    const queue = `${prefix}.redeliver`;
    durableQueues.push(queue);
    await amqp.addTopology(async (ch) => {
      await ch.assertQueue(queue, { durable: true });
    });
    await amqp.connect();
    const seen: ConsumeMessage[] = [];
    let release: () => void = () => {};
    await amqp.consume(
      queue,
      async (message) => {
        seen.push(message);
        // The first delivery hangs until the connection is gone, so its ack can never reach the broker.
        if (seen.length === 1) await new Promise<void>((resolve) => (release = resolve));
      },
      { prefetch: 1 },
    );
    await amqp.publish('', queue, Buffer.from('work'), { persistent: true });
    await nextMessage(seen, 1);
    await closeConnectionsFromServer(`${prefix}.redeliver`);
    await nextMessage(seen, 2);
    release();
    expect(seen[1]?.fields.redelivered).toBe(true);
    expect(seen[1]?.content.toString()).toBe('work');
    // Acked after the redelivery: the queue is empty.
    await expect
      .poll(async () => {
        const probe = connection('redeliver-probe');
        await probe.connect();
        let count = -1;
        await probe.addTopology(async (ch) => {
          count = (await ch.checkQueue(queue)).messageCount;
        });
        await probe.close();
        return count;
      })
      .toBe(0);
  });

  it('rejects a publish the broker refuses with TransportError and keeps publishing afterwards', async () => {
    const amqp = connection('refused');
    const queue = `${prefix}.refused`;
    await amqp.addTopology(async (ch) => {
      await ch.assertQueue(queue, { exclusive: true });
    });
    await amqp.connect();
    const failed = await amqp
      .publish(`${prefix}.no-such-exchange`, 'x', Buffer.from('lost'))
      .catch((error) => error);
    expect(failed).toBeInstanceOf(TransportError);
    await amqp.publish('', queue, Buffer.from('fine'));
    expect(amqp.isConnected).toBe(true);
  });

  it('keeps retrying while the broker is unreachable and stops on close()', async () => {
    // Two connections retrying at the same fixed pace; the twin stays open and shows how far retrying has come.
    const unreachable = () =>
      new AmqpConnection({
        url: 'amqp://guest:guest@127.0.0.1:1',
        reconnect: { initialDelayMs: 10, maxDelayMs: 10, jitter: 0 },
      });
    const amqp = unreachable();
    const twin = unreachable();
    open.push(twin);
    const attempts: number[] = [];
    const twinAttempts: number[] = [];
    amqp.on('reconnecting', ({ attempt }) => attempts.push(attempt));
    twin.on('reconnecting', ({ attempt }) => twinAttempts.push(attempt));
    const connecting = amqp.connect().catch((error) => error);
    const twinConnecting = twin.connect().catch((error) => error);
    await expect.poll(() => attempts.length).toBeGreaterThanOrEqual(3);
    await amqp.close();
    expect(await connecting).toBeInstanceOf(TransportError);
    const count = attempts.length;
    // Two more attempts of the twin, which started after it: the closed one would have retried again by then.
    const twinCount = twinAttempts.length;
    await expect
      .poll(() => twinAttempts.length, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(Math.max(twinCount, count) + 2);
    expect(attempts.length).toBe(count);
    await expect(amqp.connect()).rejects.toBeInstanceOf(TransportError);
    await twin.close();
    expect(await twinConnecting).toBeInstanceOf(TransportError);
  });

  it('gives up waiting for a connection when the caller signal aborts', async () => {
    const amqp = new AmqpConnection({ url: 'amqp://guest:guest@127.0.0.1:1' });
    open.push(amqp);
    await expect(amqp.connect(AbortSignal.timeout(100))).rejects.toThrow(/timeout|aborted/i);
  });
});
