import { randomUUID } from 'node:crypto';
import amqplib from 'amqplib';
import { AmqpConnection } from 'txkit/amqp';
import { summariseLatencies } from '../stats/latency-summary.js';

/** What the broker itself does, measured in the same run as the relay so the ratio means something. */
export interface AmqpBaseline {
  /** Raw amqplib, one confirm channel, every publish sent before the confirms are awaited. */
  rawPipelinedPerSecond: number;
  /** txkit's AmqpConnection, the same pipelining (in windows of 1,000 awaited publishes). */
  connectionPipelinedPerSecond: number;
  /** One confirmed publish at a time through AmqpConnection (noDelay on): p50 in ms. */
  sequentialP50Ms: number;
  /** The same with raw amqplib and Nagle's algorithm left on (amqplib's default): p50 in ms. */
  sequentialNoDelayOffP50Ms: number;
}

const body = Buffer.from(JSON.stringify({ seat: 'A1', screening: 42, version: 7, pad: 'x'.repeat(120) }));

/**
 * Confirmed publishes of persistent messages to a durable queue: pipelined throughput and one-at-a-time latency.
 *
 * @example
 * const baseline = await measureAmqpBaseline('amqp://guest:guest@127.0.0.1:5672', 20_000);
 */
export async function measureAmqpBaseline(url: string, messages: number): Promise<AmqpBaseline> {
  const queue = `bench.baseline.${randomUUID().slice(0, 8)}`;
  const raw = await amqplib.connect(url, { noDelay: true });
  const rawChannel = await raw.createConfirmChannel();
  await rawChannel.assertQueue(queue, { durable: true });
  const connection = new AmqpConnection({ url, name: 'bench-baseline' });
  await connection.connect();
  try {
    let t0 = performance.now();
    for (let i = 0; i < messages; i++) rawChannel.publish('', queue, body, { persistent: true });
    await rawChannel.waitForConfirms();
    const rawPipelinedPerSecond = messages / ((performance.now() - t0) / 1000);
    await rawChannel.purgeQueue(queue);

    t0 = performance.now();
    for (let sent = 0; sent < messages; sent += 1_000) {
      const window = Math.min(1_000, messages - sent);
      await Promise.all(
        Array.from({ length: window }, () => connection.publish('', queue, body, { persistent: true })),
      );
    }
    const connectionPipelinedPerSecond = messages / ((performance.now() - t0) / 1000);
    await rawChannel.purgeQueue(queue);

    const sequential: number[] = [];
    for (let i = 0; i < 500; i++) {
      const start = performance.now();
      await connection.publish('', queue, body, { persistent: true });
      sequential.push(performance.now() - start);
    }
    const sequentialNoDelayOffP50Ms = await sequentialWithoutNoDelay(url, queue, 100);
    await rawChannel.deleteQueue(queue);
    return {
      rawPipelinedPerSecond,
      connectionPipelinedPerSecond,
      sequentialP50Ms: summariseLatencies(sequential).p50,
      sequentialNoDelayOffP50Ms,
    };
  } finally {
    await connection.close();
    await raw.close();
  }
}

async function sequentialWithoutNoDelay(url: string, queue: string, count: number): Promise<number> {
  const model = await amqplib.connect(url);
  try {
    const channel = await model.createConfirmChannel();
    const samples: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      await new Promise<void>((resolve, reject) =>
        channel.publish('', queue, body, { persistent: true }, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
      samples.push(performance.now() - start);
    }
    return summariseLatencies(samples).p50;
  } finally {
    await model.close();
  }
}
