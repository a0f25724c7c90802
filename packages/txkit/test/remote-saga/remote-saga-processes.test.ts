import { type ChildProcess, spawn } from 'node:child_process';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmqpConnection } from '../../src/rabbitmq/amqp-connection.js';
import { RemoteStepClient } from '../../src/remote-saga/remote-step-client.js';
import type { SagaOutcome } from '../../src/saga/saga-outcome.js';
import { SagaRunner } from '../../src/saga/saga-runner.js';
import {
  assertRabbitMqReachable,
  createTestDatabases,
  type TestDatabases,
  testAmqpUrl,
  testCluster,
} from '../../src/testing/index.js';
import { closeConnectionsFromServer, deleteQueues, uniqueName } from '../support/broker-control.js';
import { type BundledFixture, bundleFixture } from '../support/bundle-fixture.js';
import { type BookingInput, bookingSaga, createEffectTable, ROLES, type Role } from './fixtures/booking.js';

/**
 * The booking saga with each step in a participant process of its own (seats, payments, tickets, each with its
 * own database), driven by a runner in this process over RabbitMQ.
 */
const prefix = uniqueName('remote-processes');
const queues = Object.fromEntries(ROLES.map((role) => [role, `${prefix}.${role}`])) as Record<Role, string>;
const instanceOf: Record<Role, string> = { seats: 'a', payments: 'b', tickets: 'c' };
// Tickets first: its in-flight commands are the ones the cut must catch.
const connectionNames = ['tickets', 'seats', 'payments', 'runner'].map((name) => `${prefix}.${name}`);
let dbs: TestDatabases;
let fixture: BundledFixture;
let amqp: AmqpConnection;
let remote: RemoteStepClient;
let runner: SagaRunner;
let definition: ReturnType<typeof bookingSaga>;
const children: ChildProcess[] = [];
/** `<role> <kind> <outcome>` → count, as the participant processes report them. */
const handled = new Map<string, number>();
/** Called for every command a participant process reports handled. */
let onHandled: (key: string) => void = () => {};

function pool(role: Role): pg.Pool {
  return dbs.on(instanceOf[role]).pool;
}

/** Starts a participant process and resolves once it consumes its queue. */
function startProcess(bundle: string, role: Role): Promise<ChildProcess> {
  const config = {
    role,
    connectionString: dbs.on(instanceOf[role]).connectionString,
    amqpUrl: testAmqpUrl(),
    queue: queues[role],
    connectionName: `${prefix}.${role}`,
  };
  const child = spawn(process.execPath, [bundle, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready') resolve(child);
        const [, kind, outcome] = line.split(' ');
        if (line.startsWith('handled ')) {
          const key = `${role} ${kind} ${outcome}`;
          handled.set(key, (handled.get(key) ?? 0) + 1);
          onHandled(key);
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`participant ${role} exited with ${code}: ${stderr}`)));
  });
}

/** Every row of a role's effect table, grouped by saga. */
async function effectsBySaga(role: Role): Promise<Map<string, string[]>> {
  const { rows } = await pool(role).query<{ saga_id: string; state: string }>(
    `SELECT saga_id, state FROM ${role}_effects ORDER BY id`,
  );
  const bySaga = new Map<string, string[]>();
  for (const row of rows) bySaga.set(row.saga_id, [...(bySaga.get(row.saga_id) ?? []), row.state]);
  return bySaga;
}

/**
 * The audit: every saga ended completed or compensated, and each participant's effect exists at most once per
 * saga: applied for a completed saga, compensated (or never applied) for a compensated one.
 */
async function expectConsistent(outcomes: readonly SagaOutcome[]): Promise<void> {
  const effects = Object.fromEntries(
    await Promise.all(ROLES.map(async (role) => [role, await effectsBySaga(role)] as const)),
  ) as Record<Role, Map<string, string[]>>;
  for (const outcome of outcomes) {
    expect(['completed', 'compensated']).toContain(outcome.status);
    for (const role of ROLES) {
      const rows = effects[role].get(outcome.sagaId) ?? [];
      if (outcome.status === 'completed') expect(rows, `${role} of ${outcome.sagaId}`).toEqual(['applied']);
      else expect([[], ['compensated']], `${role} of ${outcome.sagaId}`).toContainEqual(rows);
    }
  }
  // No effect belongs to a saga outside this run's outcomes twice over: counted across the whole tables.
  for (const role of ROLES) {
    for (const [sagaId, rows] of effects[role]) expect(rows.length, `${role} of ${sagaId}`).toBe(1);
  }
}

beforeAll(async () => {
  await assertRabbitMqReachable();
  dbs = await createTestDatabases(testCluster(), 'remote saga processes');
  for (const role of ROLES) await createEffectTable(pool(role), role);
  fixture = await bundleFixture(new URL('./fixtures/participant-process.ts', import.meta.url));
  await Promise.all(ROLES.map((role) => startProcess(fixture.file, role)));
  amqp = new AmqpConnection({
    url: testAmqpUrl(),
    name: `${prefix}.runner`,
    reconnect: { initialDelayMs: 50, maxDelayMs: 1_000 },
  });
  amqp.on('error', () => {});
  remote = new RemoteStepClient(amqp, { replyQueue: `${prefix}.replies` });
  definition = bookingSaga(remote, queues);
  runner = new SagaRunner({ pool: pool('seats'), id: 'process-runner', sagas: [definition] });
  await runner.migrate();
  await amqp.connect();
});

afterAll(async () => {
  await remote?.stop();
  await amqp?.close();
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
  await deleteQueues([...Object.values(queues), `${prefix}.replies`]);
  await dbs?.drop();
  await fixture?.remove();
});

describe('a saga over three participant processes', () => {
  it('completes, and compensates when the payment participant declines', async () => {
    const completed = await runner.run(definition, { seat: 'B1', amount: 20 });
    const declined = await runner.run(definition, { seat: 'B2', amount: 20, decline: true });
    expect(completed.status).toBe('completed');
    expect(declined).toMatchObject({
      status: 'compensated',
      failedStep: 'payments',
      reason: 'payment-declined',
    });
    await expectConsistent([completed, declined]);
    expect((await effectsBySaga('seats')).get(declined.sagaId)).toEqual(['compensated']);
  });

  it('ends every saga completed or compensated, each effect once, when the broker cuts every connection mid-run', async () => {
    // Tickets are slow (1 s each, 8 at a time): when the cut comes the tickets process has commands applied or
    // being applied whose replies and acks cannot go out, and commands queued long enough for their step to time
    // out and be sent again. Either way the same command arrives twice, and the barrier must hold.
    const inputs: BookingInput[] = Array.from({ length: 40 }, (_, i) => ({
      seat: `C${i}`,
      amount: 5,
      decline: i % 4 === 3,
      slow: { role: 'tickets', ms: 1_000 },
    }));
    let cut: Promise<number[]> | undefined;
    onHandled = (key) => {
      // Mid-run: the first ticket is applied, the next ones are being applied (prefetch 8), more are queued.
      if (key !== 'tickets action applied' || cut) return;
      cut = (async () => {
        const closed: number[] = [];
        for (const name of connectionNames) closed.push(await closeConnectionsFromServer(name));
        return closed;
      })();
    };
    const disconnects: unknown[] = [];
    amqp.on('disconnected', (error) => disconnects.push(error));
    try {
      const outcomes = await Promise.all(inputs.map((input) => runner.run(definition, input)));
      expect(await cut).toEqual([1, 1, 1, 1]);
      expect(disconnects.length).toBeGreaterThanOrEqual(1);
      expect(outcomes.filter((o) => o.status === 'completed')).toHaveLength(30);
      expect(outcomes.filter((o) => o.status === 'compensated')).toHaveLength(10);
      await expectConsistent(outcomes);
      // Commands that arrived twice (redelivered after the cut, or re-sent after a step timeout) were answered
      // from the barrier, not applied again; a second copy may be handled after its saga already ended.
      await expect
        .poll(() => handled.get('tickets action duplicate') ?? 0, { timeout: 30_000 })
        .toBeGreaterThanOrEqual(1);
      await expectConsistent(outcomes);
    } finally {
      onHandled = () => {};
    }
  });
});
