import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { withTransaction } from 'txkit';
import { AmqpConnection, RabbitMqBus } from 'txkit/amqp';
import { Outbox, OutboxRelay } from 'txkit/outbox';
import { type LatencySummary, summariseLatencies } from '../stats/latency-summary.js';

/** Relay figures of one run. */
export interface OutboxBenchResult {
  /** Pending rows drained by the relays, published with confirms and marked sent, per second. */
  drain: { relays: number; events: number; eventsPerSecond: number; consumedPerSecond: number }[];
  /** Events committed by closed-loop producers while the relay runs: commit-to-consume latency. */
  latency: { producers: number; committedPerSecond: number; commitToConsume: LatencySummary };
}

const SCHEMA = 'bench_outbox';

/**
 * Outbox relay throughput (a backlog drained by 1 and 2 relays) and commit-to-consume latency (producers
 * committing events while the relay runs, woken by NOTIFY), over RabbitMQ with publisher confirms.
 *
 * @example
 * const result = await benchOutbox(pool, amqpUrl, { backlog: 50_000, latencyMs: 5_000 });
 */
export async function benchOutbox(
  pool: pg.Pool,
  amqpUrl: string,
  options: { backlog: number; latencyMs: number; producers: number },
): Promise<OutboxBenchResult> {
  const outbox = new Outbox({ schema: SCHEMA });
  await outbox.migrate(pool);
  const exchange = `bench.outbox.${randomUUID().slice(0, 8)}`;
  const queue = `${exchange}.consumer`;
  const consumerConnection = new AmqpConnection({ url: amqpUrl, name: 'bench-outbox-consumer' });
  const relayConnections = [1, 2].map(
    (n) => new AmqpConnection({ url: amqpUrl, name: `bench-outbox-relay-${n}` }),
  );
  const consumerBus = new RabbitMqBus(consumerConnection, { exchange });
  let onConsumed: (messageId: string) => void = () => {};
  const subscription = await consumerBus.subscribe(
    { queue, topics: ['#'], prefetch: 500 },
    async (message) => {
      onConsumed(message.messageId);
    },
  );
  try {
    const drain: OutboxBenchResult['drain'] = [];
    for (const relays of [1, 2]) {
      await pool.query(`TRUNCATE ${SCHEMA}.outbox`);
      await pool.query(
        `INSERT INTO ${SCHEMA}.outbox (message_id, topic, key, payload)
         SELECT gen_random_uuid(), 'seat.booked', 'screening-' || (i % 64), jsonb_build_object('seat', i, 'version', i)
           FROM generate_series(1, $1) AS i`,
        [options.backlog],
      );
      await pool.query(`VACUUM ANALYZE ${SCHEMA}.outbox`);
      let consumed = 0;
      const allConsumed = new Promise<void>((resolve) => {
        onConsumed = () => {
          if (++consumed === options.backlog) resolve();
        };
      });
      const workers = relayConnections
        .slice(0, relays)
        .map(
          (connection) =>
            new OutboxRelay({ pool, bus: new RabbitMqBus(connection, { exchange }), schema: SCHEMA }),
        );
      const t0 = performance.now();
      const published = await Promise.all(workers.map((relay) => relay.relayOnce()));
      const relayedSeconds = (performance.now() - t0) / 1000;
      await allConsumed;
      const consumedSeconds = (performance.now() - t0) / 1000;
      const events = published.reduce((a, b) => a + b, 0);
      if (events !== options.backlog) throw new Error(`relayed ${events} of ${options.backlog} events`);
      drain.push({
        relays,
        events,
        eventsPerSecond: events / relayedSeconds,
        consumedPerSecond: events / consumedSeconds,
      });
    }
    return {
      drain,
      latency: await measureLatency(
        pool,
        outbox,
        relayConnections[0]!,
        exchange,
        options,
        (f) => (onConsumed = f),
      ),
    };
  } finally {
    await subscription.cancel();
    await consumerConnection.close();
    await Promise.all(relayConnections.map((connection) => connection.close()));
    await pool.query(`DROP SCHEMA ${SCHEMA} CASCADE`);
  }
}

async function measureLatency(
  pool: pg.Pool,
  outbox: Outbox,
  relayConnection: AmqpConnection,
  exchange: string,
  options: { latencyMs: number; producers: number },
  setConsumer: (consume: (messageId: string) => void) => void,
): Promise<OutboxBenchResult['latency']> {
  await pool.query(`TRUNCATE ${SCHEMA}.outbox`);
  const committedAt = new Map<string, number>();
  const latencies: number[] = [];
  setConsumer((messageId) => {
    const at = committedAt.get(messageId);
    if (at !== undefined) latencies.push(performance.now() - at);
  });
  const relay = new OutboxRelay({
    pool,
    bus: new RabbitMqBus(relayConnection, { exchange }),
    schema: SCHEMA,
  });
  relay.on('error', (error) => console.error('relay error', error));
  relay.start();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const deadline = performance.now() + options.latencyMs;
  let committed = 0;
  const producer = async (n: number) => {
    while (performance.now() < deadline) {
      const messageId = randomUUID();
      // Provisional: a consumer faster than the COMMIT's answer still finds a start time (a slight overestimate).
      committedAt.set(messageId, performance.now());
      await withTransaction(pool, (client) =>
        outbox.enqueue(
          client,
          'seat.booked',
          { producer: n, committed },
          { key: `screening-${n}`, messageId },
        ),
      );
      committedAt.set(messageId, performance.now());
      committed++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: options.producers }, (_, n) => producer(n)));
  const seconds = (performance.now() - t0) / 1000;
  const until = performance.now() + 10_000;
  while (latencies.length < committed && performance.now() < until)
    await new Promise((r) => setTimeout(r, 20));
  await relay.stop();
  return {
    producers: options.producers,
    committedPerSecond: committed / seconds,
    commitToConsume: summariseLatencies(latencies),
  };
}
