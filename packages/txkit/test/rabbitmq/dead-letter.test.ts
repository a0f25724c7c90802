import type { GetMessage } from 'amqplib';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MalformedMessageError } from '../../src/bus/malformed-message-error.js';
import type { BusMessage } from '../../src/bus/message-bus.js';
import { AmqpConnection } from '../../src/rabbitmq/amqp-connection.js';
import type { DeadLetterInfo } from '../../src/rabbitmq/dead-letter.js';
import { RabbitMqBus } from '../../src/rabbitmq/rabbitmq-bus.js';
import { RemoteStepClient } from '../../src/remote-saga/remote-step-client.js';
import { type ParticipantOutcome, SagaParticipant } from '../../src/remote-saga/saga-participant.js';
import { testAmqpUrl } from '../../src/testing/index.js';
import { assertRabbitMqReachable } from '../../src/testing/rabbitmq.js';
import {
  closeConnectionsFromServer,
  deleteQueues,
  uniqueName,
  withBrokerChannel,
} from '../support/broker-control.js';

const prefix = uniqueName('dead-letter');
const exchange = `${prefix}.events`;
const declaredQueues: string[] = [];
let open: AmqpConnection[] = [];

/** A connection whose dead letters and errors the test can read. */
function connection(label: string) {
  const amqp = new AmqpConnection({ url: testAmqpUrl(), name: `${prefix}.${label}` });
  const deadLettered: DeadLetterInfo[] = [];
  const errors: unknown[] = [];
  amqp.on('deadLettered', (info) => deadLettered.push(info));
  amqp.on('error', (error) => errors.push(error));
  open.push(amqp);
  return { amqp, deadLettered, errors };
}

function queueNamed(label: string): string {
  const queue = `${prefix}.${label}`;
  declaredQueues.push(queue);
  return queue;
}

function messageCount(queue: string): Promise<number> {
  return withBrokerChannel(async (channel) => (await channel.checkQueue(queue)).messageCount);
}

function queueExists(queue: string): Promise<boolean> {
  return withBrokerChannel((channel) => channel.checkQueue(queue)).then(
    () => true,
    (error: { code?: unknown }) => {
      if (error.code === 404) return false;
      throw error;
    },
  );
}

/** Takes every message waiting in `queue` (acked: they are gone afterwards). */
function takeAll(queue: string): Promise<GetMessage[]> {
  return withBrokerChannel(async (channel) => {
    const taken: GetMessage[] = [];
    for (let message = await channel.get(queue); message; message = await channel.get(queue)) {
      taken.push(message);
      channel.ack(message);
    }
    return taken;
  });
}

/** Waits until `count` messages are ready in a queue. */
function untilCount(queue: string, count: number): Promise<void> {
  return expect.poll(() => messageCount(queue), { timeout: 10_000 }).toBe(count);
}

/**
 * Closes the consuming connection. Its consumers stop after their handlers in progress (their acks still go out),
 * and the broker puts whatever the connection did not ack back in its queue: nothing more is delivered or
 * dead-lettered after this, so the counts and queues read afterwards are final.
 */
function settle(amqp: AmqpConnection): Promise<void> {
  return amqp.close();
}

function publishRaw(routingExchange: string, routingKey: string, body: string, messageId: string) {
  return withBrokerChannel(async (channel) => {
    await channel.assertExchange(exchange, 'topic', { durable: true });
    channel.publish(routingExchange, routingKey, Buffer.from(body), { persistent: true, messageId });
  });
}

beforeAll(() => assertRabbitMqReachable());
afterEach(async () => {
  await Promise.all(open.map((amqp) => amqp.close()));
  open = [];
});
afterAll(async () => {
  await deleteQueues(declaredQueues);
  await withBrokerChannel((channel) => channel.deleteExchange(exchange)).catch(() => {});
});

describe('dead letters', () => {
  it('moves a body that is not JSON to <queue>.dead once, and goes on with the next message', async () => {
    const { amqp, deadLettered } = connection('bad-json');
    const queue = queueNamed('bad-json');
    const bus = new RabbitMqBus(amqp, { exchange, requeueDelayMs: 10 });
    const handled: unknown[] = [];
    // One message at a time: a bad message requeued forever would hold the only slot.
    await bus.subscribe({ queue, topics: ['seat.*'], prefetch: 1 }, async (m) => {
      handled.push(m.payload);
    });
    // Open, the connection has bound the queue: a message published from elsewhere before that would be dropped.
    await amqp.connect();
    await publishRaw(exchange, 'seat.booked', '{"seat": "A1"', 'bad-1');
    await bus.publish({ topic: 'seat.booked', messageId: 'good-1', payload: { seat: 'A2' } });

    // One message at a time: the good one is handed out only once the bad one was settled.
    await expect.poll(() => handled, { timeout: 10_000 }).toEqual([{ seat: 'A2' }]);
    await settle(amqp);
    expect(await messageCount(`${queue}.dead`)).toBe(1);
    const [dead] = await takeAll(`${queue}.dead`);
    expect(dead?.content.toString()).toBe('{"seat": "A1"');
    expect(dead?.properties.messageId).toBe('bad-1');
    expect(dead?.properties.headers).toMatchObject({
      'x-txkit-dead-reason': 'malformed',
      'x-txkit-dead-queue': queue,
      'x-txkit-dead-deliveries': 1,
      'x-txkit-exchange': exchange,
      'x-txkit-routing-key': 'seat.booked',
    });
    expect(String(dead?.properties.headers?.['x-txkit-dead-error'])).toMatch(
      /MalformedMessageError.*not JSON/,
    );
    expect(deadLettered).toEqual([
      expect.objectContaining({ queue, reason: 'malformed', deliveries: 1, messageId: 'bad-1' }),
    ]);
    expect(handled).toEqual([{ seat: 'A2' }]);
    expect(await messageCount(queue)).toBe(0);
  });

  describe.each(['classic', 'quorum'])('on a %s queue', (queueType) => {
    it('tries a handler that always fails exactly maxDeliveries times, then dead-letters the message', async () => {
      const { amqp, deadLettered, errors } = connection(`always-fails-${queueType}`);
      const queue = queueNamed(`always-fails-${queueType}`);
      await amqp.addTopology(async (channel) => {
        await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': queueType } });
      });
      const deliveries: boolean[] = [];
      const deliveredAt: number[] = [];
      await amqp.consume(
        queue,
        async (message) => {
          deliveries.push(message.fields.redelivered);
          deliveredAt.push(performance.now());
          throw new Error(`boom ${deliveries.length}`);
        },
        { maxDeliveries: 3, requeueDelayMs: 60 },
      );
      await amqp.publish('', queue, Buffer.from('{"n":1}'), {
        persistent: true,
        messageId: 'doomed-1',
        headers: { trace: 't-1' },
      });

      await untilCount(`${queue}.dead`, 1);
      await settle(amqp);
      expect(await messageCount(`${queue}.dead`)).toBe(1);
      expect(deliveries).toEqual([false, true, true]);
      // The pause doubles: ~60 ms (±20 %) before the second delivery, ~120 ms before the third.
      const [first = 0, second = 0, third = 0] = deliveredAt;
      expect(second - first).toBeGreaterThanOrEqual(48);
      expect(third - second).toBeGreaterThanOrEqual(96);
      expect(errors.map((error) => (error as Error).message)).toEqual(['boom 1', 'boom 2', 'boom 3']);
      expect(deadLettered).toEqual([
        expect.objectContaining({ queue, reason: 'max-deliveries', deliveries: 3, messageId: 'doomed-1' }),
      ]);
      const [dead] = await takeAll(`${queue}.dead`);
      expect(dead?.content.toString()).toBe('{"n":1}');
      expect(dead?.properties.headers).toMatchObject({
        trace: 't-1',
        'x-txkit-dead-reason': 'max-deliveries',
        'x-txkit-dead-deliveries': 3,
        'x-txkit-dead-error': 'Error: boom 3',
      });
      // A replayed dead letter starts with a full set of deliveries.
      expect(dead?.properties.headers).not.toHaveProperty('x-txkit-attempts');
      expect(await messageCount(queue)).toBe(0);
    });
    it('dead-letters a message whose handler never returns, its connection dropped each time, after maxDeliveries', async () => {
      const label = `never-returns-${queueType}`;
      const { amqp, deadLettered, errors } = connection(label);
      const queue = queueNamed(label);
      await amqp.addTopology(async (channel) => {
        await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': queueType } });
      });
      // Each delivery hangs, as if the handler had killed its process; the test then drops the connection
      // (what the broker sees when a process dies), and the broker requeues the message unacknowledged.
      let handled = 0;
      const hanging: (() => void)[] = [];
      await amqp.consume(
        queue,
        async () => {
          handled += 1;
          await new Promise<void>((resolve) => hanging.push(resolve));
        },
        { maxDeliveries: 3, requeueDelayMs: 10 },
      );
      await amqp.publish('', queue, Buffer.from('{"n":1}'), { persistent: true, messageId: 'kills-1' });
      try {
        for (let delivery = 1; delivery <= 3; delivery++) {
          await expect.poll(() => handled, { timeout: 10_000 }).toBe(delivery);
          await closeConnectionsFromServer(`${prefix}.${label}`);
        }
        await untilCount(`${queue}.dead`, 1);
      } finally {
        for (const release of hanging) release();
      }
      await settle(amqp);
      expect(await messageCount(`${queue}.dead`)).toBe(1);
      // Three deliveries ran the handler; none after the third.
      expect(handled).toBe(3);
      expect(deadLettered).toEqual([
        expect.objectContaining({ queue, reason: 'max-deliveries', deliveries: 3, messageId: 'kills-1' }),
      ]);
      expect(errors.map((error) => (error as Error).message)).toContain(
        `delivery 3 of a message on '${queue}' ended unacknowledged (its consumer died or its channel closed): counted as failed`,
      );
      expect(await messageCount(queue)).toBe(0);
    });
  });

  it('handles once a message whose handler fails twice and then succeeds, and dead-letters nothing', async () => {
    const { amqp, deadLettered } = connection('fails-twice');
    const queue = queueNamed('fails-twice');
    const bus = new RabbitMqBus(amqp, { exchange, maxDeliveries: 3, requeueDelayMs: 10 });
    const seen: BusMessage[] = [];
    const succeeded: BusMessage[] = [];
    await bus.subscribe({ queue, topics: ['order.*'] }, async (m) => {
      seen.push(m);
      if (seen.length <= 2) throw new Error('not yet');
      succeeded.push(m);
    });
    await bus.publish({
      topic: 'order.placed',
      messageId: 'order-1',
      key: 'customer-7',
      payload: { order: 1 },
      headers: { trace: 't-2' },
    });

    await expect.poll(() => succeeded.length, { timeout: 10_000 }).toBe(1);
    await settle(amqp);
    expect(await messageCount(queue)).toBe(0);
    expect(seen).toHaveLength(3);
    expect(succeeded).toHaveLength(1);
    // Every delivery looks like the message as published: the copies' bookkeeping does not show.
    for (const message of seen) {
      expect(message).toMatchObject({
        topic: 'order.placed',
        messageId: 'order-1',
        key: 'customer-7',
        payload: { order: 1 },
        headers: { trace: 't-2' },
      });
    }
    expect(seen.map((m) => m.redelivered)).toEqual([false, true, true]);
    // Not even declared: a queue that never had a dead letter has no dead-letter queue.
    expect(await queueExists(`${queue}.dead`)).toBe(false);
    expect(deadLettered).toEqual([]);
  });

  it('handles a dead letter an operator moved back to its queue as the message first published', async () => {
    const { amqp } = connection('replay');
    const queue = queueNamed('replay');
    const bus = new RabbitMqBus(amqp, { exchange, maxDeliveries: 2, requeueDelayMs: 10 });
    let fixed = false;
    const seen: BusMessage[] = [];
    await bus.subscribe({ queue, topics: ['refund.*'] }, async (m) => {
      seen.push(m);
      if (!fixed) throw new Error('bug');
    });
    await bus.publish({ topic: 'refund.issued', messageId: 'refund-1', payload: { amount: 5 } });
    await untilCount(`${queue}.dead`, 1);

    fixed = true;
    // What a shovel from <queue>.dead to <queue> does: the same body and properties, through the default exchange.
    await withBrokerChannel(async (channel) => {
      const dead = await channel.get(`${queue}.dead`);
      if (!dead) throw new Error('no dead letter');
      channel.sendToQueue(queue, dead.content, dead.properties);
      channel.ack(dead);
    });
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(3);
    expect(seen[2]).toMatchObject({
      topic: 'refund.issued',
      messageId: 'refund-1',
      payload: { amount: 5 },
      headers: {},
    });
    await settle(amqp);
    expect(await messageCount(queue)).toBe(0);
    expect(await messageCount(`${queue}.dead`)).toBe(0);
    expect(seen).toHaveLength(3);
  });

  it('declares <queue>.dead with its first dead letter, and again after an operator deleted it', async () => {
    const { amqp, deadLettered } = connection('deleted-dead-queue');
    const queue = queueNamed('deleted-dead-queue');
    await amqp.addTopology(async (channel) => {
      await channel.assertQueue(queue, { durable: true });
    });
    await amqp.consume(queue, async () => {
      throw new MalformedMessageError('never acceptable');
    });
    expect(await queueExists(`${queue}.dead`)).toBe(false);
    await amqp.publish('', queue, Buffer.from('{}'), { messageId: 'm-1' });
    await untilCount(`${queue}.dead`, 1);

    await withBrokerChannel((channel) => channel.deleteQueue(`${queue}.dead`));
    await amqp.publish('', queue, Buffer.from('{}'), { messageId: 'm-2' });
    await untilCount(`${queue}.dead`, 1);
    await settle(amqp);
    expect(await messageCount(queue)).toBe(0);
    expect((await takeAll(`${queue}.dead`)).map((m) => m.properties.messageId)).toEqual(['m-2']);
    expect(deadLettered.map((info) => info.messageId)).toEqual(['m-1', 'm-2']);
  });

  it('requeues the original when the copy is not confirmed, and loses nothing', async () => {
    const { amqp, deadLettered, errors } = connection('not-confirmed');
    const queue = queueNamed('not-confirmed');
    await amqp.addTopology(async (channel) => {
      await channel.assertQueue(queue, { durable: true });
    });
    // The first copy (the retry after the first failure) is refused as if the broker had nacked it.
    const publish = amqp.publish.bind(amqp);
    let publishes = 0;
    amqp.publish = (...args) => {
      publishes += 1;
      return publishes === 1 ? Promise.reject(new Error('not confirmed')) : publish(...args);
    };
    let deliveries = 0;
    await amqp.consume(
      queue,
      async () => {
        deliveries += 1;
        throw new Error('fails');
      },
      { maxDeliveries: 2, requeueDelayMs: 10 },
    );
    await publish('', queue, Buffer.from('{}'), { persistent: true, messageId: 'kept-1' });

    await untilCount(`${queue}.dead`, 1);
    await settle(amqp);
    expect(await messageCount(`${queue}.dead`)).toBe(1);
    // The requeued delivery comes back flagged as redelivered and is counted then: two deliveries in all.
    expect(deliveries).toBe(2);
    expect(errors.map((error) => (error as Error).message)).toContain('not confirmed');
    expect(deadLettered).toEqual([expect.objectContaining({ deliveries: 2, messageId: 'kept-1' })]);
    expect(await messageCount(queue)).toBe(0);
  });
});

describe('dead letters of remote steps', () => {
  it('dead-letters a command without the protocol fields and handles the next command', async () => {
    const { amqp, deadLettered } = connection('participant');
    const queue = queueNamed('participant');
    // Never connected: neither command reaches the database (one is malformed, the other's step is unknown).
    const pool = new pg.Pool({ connectionString: 'postgres://127.0.0.1:1/none' });
    const participant = new SagaParticipant(amqp, { pool, queue });
    const outcomes: ParticipantOutcome[] = [];
    participant.on('handled', ({ outcome }) => outcomes.push(outcome));
    participant.on('error', () => {});
    await participant.start();
    await amqp.publish('', queue, Buffer.from(JSON.stringify({ sagaId: 's-1', step: 'charge' })));
    const command = { sagaId: 's-2', sagaName: 'book', step: 'elsewhere', kind: 'action', attempt: 1 };
    await amqp.publish('', queue, Buffer.from(JSON.stringify({ ...command, input: {}, outputs: {} })));

    await expect.poll(() => outcomes, { timeout: 10_000 }).toEqual(['unknown-step']);
    await untilCount(`${queue}.dead`, 1);
    await participant.stop();
    await settle(amqp);
    expect(await messageCount(queue)).toBe(0);
    expect(await messageCount(`${queue}.dead`)).toBe(1);
    const [dead] = await takeAll(`${queue}.dead`);
    expect(JSON.parse(dead!.content.toString())).toEqual({ sagaId: 's-1', step: 'charge' });
    expect(dead?.properties.headers?.['x-txkit-dead-error']).toBe(
      "MalformedMessageError: a remote command has no valid 'sagaName'",
    );
    expect(deadLettered.map((info) => info.reason)).toEqual(['malformed']);
    expect(outcomes).toEqual(['unknown-step']);
    await pool.end();
  });

  it("dead-letters a malformed reply into the reply queue's dead-letter queue", async () => {
    const { amqp, deadLettered } = connection('replies');
    const replyQueue = queueNamed('replies');
    const remote = new RemoteStepClient(amqp, { replyQueue, replyQueueExpiresMs: 60_000 });
    await remote.start();
    await amqp.publish('', replyQueue, Buffer.from(JSON.stringify({ status: 'ok', output: 1 })), {
      correlationId: 's-1:charge:action',
    });

    await untilCount(`${replyQueue}.dead`, 1);
    await remote.stop();
    await settle(amqp);
    expect(await messageCount(replyQueue)).toBe(0);
    expect(await messageCount(`${replyQueue}.dead`)).toBe(1);
    // It expires with the reply queue: declaring it with other arguments would fail (PRECONDITION_FAILED).
    await withBrokerChannel((channel) =>
      channel.assertQueue(`${replyQueue}.dead`, { durable: true, expires: 60_000 }),
    );
    expect(deadLettered).toEqual([
      expect.objectContaining({
        queue: replyQueue,
        reason: 'malformed',
        error: expect.objectContaining({ message: "a remote 'ok' reply has no valid 'duplicate'" }),
      }),
    ]);
  });
});
