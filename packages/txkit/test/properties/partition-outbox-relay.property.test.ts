import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { dropDuplicates } from '../../src/bus/dedupe.js';
import type { BusMessage } from '../../src/bus/message-bus.js';
import { withTransaction } from '../../src/db/queryable.js';
import { isSimulatedCrash } from '../../src/faults.js';
import { TxkitError } from '../../src/index.js';
import { Outbox } from '../../src/outbox/outbox.js';
import { OutboxRelay } from '../../src/outbox/outbox-relay.js';
import { AmqpConnection } from '../../src/rabbitmq/amqp-connection.js';
import { RabbitMqBus } from '../../src/rabbitmq/rabbitmq-bus.js';
import {
  assertRabbitMqReachable,
  createTestDatabases,
  FaultPlan,
  type FaultProxy,
  type FaultSpec,
  startFaultProxy,
  type TestDatabases,
  testAmqpUrl,
  testCluster,
} from '../../src/testing/index.js';
import { deleteQueues, uniqueName } from '../support/broker-control.js';
import { handledUpTo, recordInto } from '../support/queue-marker.js';
import { type PointPartition, pointPartitions, randomPartitions } from './support/partition-arbitraries.js';
import { partitionDriver, SCHEDULING_SLACK_MS, stopsWithin } from './support/partition-network.js';
import { assertProperty, propertyRuns, propertyTimeout } from './support/runs.js';
import { RECOVERY_POLL_MS, sleep } from './support/world.js';

// The outbox relay through a network that fails: the relay reaches RabbitMQ and its database through a fault
// proxy that cuts, blackholes (healing with or without the held bytes), slows or cuts mid-stream either link,
// at random moments and at the relay's fault points; "RabbitMQ restarted mid-relay" is emulated by the proxy
// (every broker connection reset, new ones refused while it is down, then accepted: the shared broker itself
// is never restarted); sometimes the relay process dies on top. After healing, a new relay (another name)
// drains the outbox. Invariants: nothing pending, every committed event applied exactly once by a
// deduplicating consumer (delivered at least once), nothing of a rolled-back transaction, a transaction's
// events per key in order, every relay pass within its documented bound, every error of a known kind.

const runs = propertyRuns(8);
const RESPONSE_TIMEOUT_MS = 500;
const PUBLISH_TIMEOUT_MS = 1_000;
/**
 * `docs/operations.md`: a relay pass waits at most `responseTimeoutMs` per round trip (connect, BEGIN, the key
 * lock, the claim, the mark, COMMIT or ROLLBACK: 7) and `publishTimeoutMs` for the confirms; one batch a pass.
 */
const PASS_BOUND_MS = 7 * RESPONSE_TIMEOUT_MS + PUBLISH_TIMEOUT_MS;
const KEYS = ['k0', 'k1', 'k2'] as const;
const OUTBOX_POINTS = ['outbox:before-publish', 'outbox:after-publish'] as const;

const prefix = uniqueName('partition-outbox');
const exchange = `${prefix}.events`;
let dbs: TestDatabases;
let pool: pg.Pool;
let proxy: FaultProxy;
let consumerConnection: AmqpConnection;
let consumerBus: RabbitMqBus;
const queues: string[] = [];
let schemaCounter = 0;
const tally = new Map<string, number>();
const count = (kind: string, n = 1) => tally.set(kind, (tally.get(kind) ?? 0) + n);

beforeAll(async () => {
  await assertRabbitMqReachable();
  dbs = await createTestDatabases(testCluster(), 'property partitions outbox');
  pool = dbs.on('a').pool;
  proxy = await startFaultProxy({ upstreams: { amqp: testAmqpUrl(), pg: dbs.on('a').connectionString } });
  consumerConnection = new AmqpConnection({ url: testAmqpUrl(), name: `${prefix}.consumer` });
  consumerConnection.on('error', () => {});
  consumerBus = new RabbitMqBus(consumerConnection, { exchange });
});
afterAll(async () => {
  console.log(`[stats] outbox relay through partitions: ${JSON.stringify(Object.fromEntries(tally))}`);
  await consumerConnection?.close();
  await deleteQueues(queues);
  await proxy?.close();
  await dbs?.drop();
});

interface Txn {
  events: { key: (typeof KEYS)[number] }[];
  rollback: boolean;
  delayMs: number;
}

interface OutboxCase {
  txns: Txn[];
  random: Parameters<typeof partitionDriver>[1]['random'];
  atPoints: PointPartition[];
  /** Every broker connection reset at a relay point, new ones refused for `downMs`, then accepted. */
  brokerRestart: { point: (typeof OUTBOX_POINTS)[number]; occurrence: number; downMs: number } | null;
  crash: FaultSpec[];
}

const txnsArbitrary: fc.Arbitrary<Txn[]> = fc.array(
  fc.record({
    events: fc.array(fc.record({ key: fc.constantFrom(...KEYS) }), { minLength: 1, maxLength: 4 }),
    rollback: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    delayMs: fc.integer({ min: 0, max: 15 }).map((n) => n * 50),
  }),
  { minLength: 1, maxLength: 6 },
);

/** A failed pass's error, by class and code (or the start of its message), for the stats. */
function errorKind(error: unknown): string {
  const { name, code, message } = error as { name?: string; code?: string; message?: string };
  return `${name}${code ? ` ${code}` : ''}${name === 'Error' && !code ? ` ${message?.slice(0, 40)}` : ''}`;
}

/** What a failed relay pass may end with: the documented typed errors (see relayOnce), or the plan's crash. */
function unexpected(error: unknown): string | undefined {
  if (error instanceof TxkitError || isSimulatedCrash(error)) return undefined;
  return `${(error as Error)?.name}: ${(error as Error)?.message}`;
}

async function runOutboxCase(input: OutboxCase): Promise<void> {
  const outbox = new Outbox({ schema: `outbox_partition_${++schemaCounter}` });
  await outbox.migrate(pool);
  const queue = `${prefix}.q${schemaCounter}`;
  queues.push(queue);
  // The consumer applies each message id once (delivery is at least once); repeats are counted.
  const applied: BusMessage[] = [];
  const seenIds = new Set<string>();
  const apply = dropDuplicates(recordInto(applied));
  const subscriptions = [
    await consumerBus.subscribe({ queue, topics: ['#'] }, async (message) => {
      if (seenIds.has(message.messageId)) count('deliveries repeated');
      seenIds.add(message.messageId);
      await apply(message);
    }),
  ];
  await consumerConnection.connect();

  const atPoints = [
    ...input.atPoints,
    ...(input.brokerRestart
      ? [
          {
            ...input.brokerRestart,
            upstream: 'amqp',
            mode: 'cut' as const,
            healAfterMs: input.brokerRestart.downMs,
          },
        ]
      : []),
  ];
  const driver = partitionDriver(proxy, { random: input.random, atPoints });
  const plan = new FaultPlan(input.crash);
  const relayPool = new pg.Pool({ connectionString: proxy.url('pg', dbs.on('a').connectionString), max: 4 });
  relayPool.on('error', () => {});
  const relayConnection = new AmqpConnection({
    url: proxy.url('amqp', testAmqpUrl()),
    name: `${prefix}.relay${schemaCounter}`,
    heartbeatSeconds: 1,
    connectTimeoutMs: 1_000,
    reconnect: { initialDelayMs: 20, maxDelayMs: 300 },
  });
  relayConnection.on('error', () => {});
  const relay = new OutboxRelay({
    pool: relayPool,
    bus: new RabbitMqBus(relayConnection, { exchange }),
    schema: outbox.schemaName,
    name: 'partitioned',
    batchSize: 50,
    listen: false,
    publishTimeoutMs: PUBLISH_TIMEOUT_MS,
    responseTimeoutMs: RESPONSE_TIMEOUT_MS,
    faults: async (site) => {
      await driver.hook(site);
      await plan.hook(site);
    },
  });

  const violations: string[] = [];
  const committed: { messageId: string; key: string; txn: number; index: number }[] = [];
  const rolledBack = new Set<string>();
  let writing = true;
  let healAfter = Number.POSITIVE_INFINITY;
  driver.start();
  // The relay's passes, one after another as its service would run them, each timed, until the writes are done,
  // the partitions over and a pass that began after that found nothing left to publish — or, at the latest,
  // until 2.5 s after the writes (by then every partition of the schedule has healed) — or the relay "died".
  // (Not always the 2.5 s: most runs' partitions healed long before, and the wait was most of a run's time.)
  const relaying = (async () => {
    while (!plan.crashed) {
      const started = Date.now();
      const settledBefore = !writing && driver.quiet();
      let drained = false;
      try {
        drained = (await relay.relayOnce()) === 0 && settledBefore && driver.quiet();
        count('passes ok');
      } catch (error) {
        count(isSimulatedCrash(error) ? 'relay crashed' : `pass failed: ${errorKind(error)}`);
        const why = unexpected(error);
        if (why) violations.push(`a relay pass failed with an unexpected error: ${why}`);
      }
      const ms = Date.now() - started;
      if (ms > PASS_BOUND_MS + SCHEDULING_SLACK_MS)
        violations.push(`a relay pass took ${ms} ms, bound ${PASS_BOUND_MS} ms`);
      if (drained || (!writing && Date.now() > healAfter)) return;
      await sleep(20);
    }
  })();
  await Promise.all(
    input.txns.map(async (txn, t) => {
      await sleep(txn.delayMs);
      const ids: { messageId: string; key: string; index: number }[] = [];
      await withTransaction(pool, async (client) => {
        for (const [index, event] of txn.events.entries()) {
          const sent = await outbox.enqueue(client, 'partition.event', { txn: t, index }, { key: event.key });
          ids.push({ messageId: sent.messageId, key: event.key, index });
        }
        if (txn.rollback) throw new Error('rolled back on purpose');
      }).then(
        () => committed.push(...ids.map((id) => ({ ...id, txn: t }))),
        () => {
          for (const id of ids) rolledBack.add(id.messageId);
        },
      );
    }),
  );
  writing = false;
  healAfter = Date.now() + 2_500; // the longest partition of the schedule ends within ~2.3 s of its start
  // The passes end by then, but for the pass under way (bounded by PASS_BOUND_MS).
  await stopsWithin('the relay passes', relaying, 2_500 + PASS_BOUND_MS + SCHEDULING_SLACK_MS);
  await stopsWithin('healing', driver.heal());
  await stopsWithin('the relay stop()', relay.stop());
  await stopsWithin("the relay's AmqpConnection close()", relayConnection.close());
  await stopsWithin("the relay's pool end()", relayPool.end());

  // Healed: a new relay (another name, direct connections) drains what is left, within a bounded time.
  const successorConnection = new AmqpConnection({ url: testAmqpUrl(), name: `${prefix}.successor` });
  successorConnection.on('error', () => {});
  const successor = new OutboxRelay({
    pool,
    bus: new RabbitMqBus(successorConnection, { exchange }),
    schema: outbox.schemaName,
    name: 'successor',
    listen: false,
    publishTimeoutMs: 5_000,
  });
  const deadline = Date.now() + 20_000;
  const successorErrors: string[] = [];
  let pending = await successor.pendingCount();
  while (pending > 0 && Date.now() < deadline) {
    await successor.relayOnce().catch((error: unknown) => {
      successorErrors.push(
        `${Date.now() - deadline + 20_000} ms: ${errorKind(error)} ${(error as Error)?.message}`,
      );
    });
    pending = await successor.pendingCount();
    if (pending > 0) await sleep(RECOVERY_POLL_MS);
  }
  await stopsWithin("the successor's stop()", successor.stop());
  await stopsWithin("the successor's AmqpConnection close()", successorConnection.close());
  // (Found once by the soak, in two workers at the same moment, not reproduced: what the passes failed with,
  // and the other sessions on the database — one of the dead relay's, still open, would hold its keys' locks.)
  if (pending > 0) {
    const { rows: sessions } = await pool.query<{ pid: number; state: string; since: string; query: string }>(
      `SELECT pid, state, now() - state_change AS since, left(query, 80) AS query FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    violations.push(`other sessions: ${JSON.stringify(sessions)}`);
    violations.push(
      `${pending} outbox rows still pending 20 s after healing; the successor's failed passes: ${successorErrors.join('; ') || 'none'}`,
    );
  }
  await handledUpTo(consumerBus, applied);
  for (const subscription of subscriptions) await subscription.cancel();
  // Bound to every topic, a queue left behind would take a copy of every later run's events: thousands of runs
  // (a soak) would fill the broker, and route each publish to thousands of queues.
  await deleteQueues([queue]);

  const appliedTimes = new Map<string, number>();
  for (const m of applied) appliedTimes.set(m.messageId, (appliedTimes.get(m.messageId) ?? 0) + 1);
  for (const c of committed) {
    const times = appliedTimes.get(c.messageId) ?? 0;
    if (times !== 1) violations.push(`committed event ${c.txn}/${c.index} applied ${times} times`);
  }
  for (const id of rolledBack)
    if (appliedTimes.has(id)) violations.push(`rolled-back event ${id} was published`);
  // Within one transaction, the events of a key come out in the order they were written.
  const position = new Map(applied.map((m, i) => [m.messageId, i]));
  for (const key of KEYS) {
    for (let t = 0; t < input.txns.length; t += 1) {
      const order = committed
        .filter((c) => c.txn === t && c.key === key)
        .map((c) => position.get(c.messageId) ?? -1);
      if (order.some((p, i) => i > 0 && p < order[i - 1]!))
        violations.push(`transaction ${t}'s events of ${key} applied out of order: ${order}`);
    }
  }
  count('events committed', committed.length);
  count('events rolled back', rolledBack.size);
  count('runs with a crash', plan.crashed ? 1 : 0);
  await pool.query(`DROP SCHEMA ${outbox.schemaName} CASCADE`);
  if (violations.length > 0) {
    throw new Error(`${violations.join('\n')}\nnetwork: ${driver.applied.join('; ')}\n${plan.describe()}`);
  }
}

describe('outbox relay through network partitions and broker restarts', () => {
  it(
    'drains after healing, every committed event applied once, none rolled back, passes bounded and typed',
    async () => {
      await assertProperty(
        'outbox relay partitions',
        fc.asyncProperty(
          fc.record({
            txns: txnsArbitrary,
            random: randomPartitions(['amqp', 'pg']),
            atPoints: pointPartitions(OUTBOX_POINTS, ['amqp', 'pg']),
            brokerRestart: fc.option(
              fc.record({
                point: fc.constantFrom(...OUTBOX_POINTS),
                occurrence: fc.integer({ min: 1, max: 2 }),
                downMs: fc.integer({ min: 100, max: 2_000 }),
              }),
              { freq: 2 },
            ),
            crash: fc
              .option(
                fc.array(
                  fc.record({
                    point: fc.constantFrom(...OUTBOX_POINTS),
                    occurrence: fc.integer({ min: 1, max: 2 }),
                    kind: fc.constant<FaultSpec['kind']>('crash'),
                  }),
                  { minLength: 1, maxLength: 1 },
                ),
                { freq: 3 },
              )
              .map((c) => c ?? []),
          }),
          (input) => runOutboxCase(input),
        ),
        runs,
      );
    },
    propertyTimeout(runs, 40_000),
  );
});
