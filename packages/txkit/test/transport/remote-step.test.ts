import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SagaRunner } from '../../src/saga/saga-runner.js';
import {
  assertRabbitMqReachable,
  createTestDatabases,
  type TestDatabases,
  testAmqpUrl,
  testCluster,
} from '../../src/testing/index.js';
import { AmqpConnection } from '../../src/transport/amqp-connection.js';
import { RemoteStepClient } from '../../src/transport/remote-step-client.js';
import type { ParticipantOutcome } from '../../src/transport/saga-participant.js';
import { deleteQueues, uniqueName } from './broker-control.js';
import { bookingSaga, createEffectTable, ROLES, type Role, startParticipant } from './fixtures/booking.js';

const prefix = uniqueName('remote-step');
const queues = Object.fromEntries(ROLES.map((role) => [role, `${prefix}.${role}`])) as Record<Role, string>;
const instanceOf: Record<Role, string> = { seats: 'a', payments: 'b', tickets: 'c' };
let dbs: TestDatabases;
let amqp: AmqpConnection;
let remote: RemoteStepClient;
let runner: SagaRunner;
const closers: Array<() => Promise<void>> = [];
const outcomes: Array<{ role: Role; step: string; kind: string; outcome: ParticipantOutcome }> = [];
const booking = () => bookingSaga(remote, queues);
let definition: ReturnType<typeof booking>;

function pool(role: Role): pg.Pool {
  return dbs.on(instanceOf[role]).pool;
}

async function effects(role: Role, sagaId: string): Promise<string[]> {
  const { rows } = await pool(role).query(
    `SELECT state FROM ${role}_effects WHERE saga_id = $1 ORDER BY id`,
    [sagaId],
  );
  return rows.map((r) => r.state);
}

beforeAll(async () => {
  await assertRabbitMqReachable();
  dbs = await createTestDatabases(testCluster(), 'remote steps');
  for (const role of ROLES) {
    await createEffectTable(pool(role), role);
    const started = await startParticipant({
      role,
      connectionString: dbs.on(instanceOf[role]).connectionString,
      amqpUrl: testAmqpUrl(),
      queue: queues[role],
      connectionName: `${prefix}.${role}`,
    });
    started.participant.on('handled', (info) => outcomes.push({ role, ...info }));
    closers.push(started.close);
  }
  amqp = new AmqpConnection({ url: testAmqpUrl(), name: `${prefix}.runner` });
  remote = new RemoteStepClient(amqp, { replyQueue: `${prefix}.replies` });
  definition = booking();
  runner = new SagaRunner({ pool: pool('seats'), id: 'remote-runner', sagas: [definition] });
  await runner.migrate();
  await amqp.connect();
});

afterAll(async () => {
  await remote?.stop();
  await amqp?.close();
  for (const close of closers) await close();
  await deleteQueues([...Object.values(queues), `${prefix}.replies`]);
  await dbs?.drop();
});

describe('remote saga steps over RabbitMQ', () => {
  it('completes a saga whose three steps run on three participants, with their outputs', async () => {
    const outcome = await runner.run(definition, { seat: 'A1', amount: 10 });
    expect(outcome.status).toBe('completed');
    if (outcome.status !== 'completed') return;
    for (const role of ROLES) {
      expect(await effects(role, outcome.sagaId)).toEqual(['applied']);
      expect(outcome.result[role]).toEqual({ id: expect.any(Number) });
    }
  });

  it('compensates when the payment participant declines, with its reason', async () => {
    const outcome = await runner.run(definition, { seat: 'A2', amount: 10, decline: true });
    expect(outcome).toMatchObject({
      status: 'compensated',
      failedStep: 'payments',
      reason: 'payment-declined',
    });
    expect(await effects('seats', outcome.sagaId)).toEqual(['compensated']);
    expect(await effects('payments', outcome.sagaId)).toEqual([]);
    expect(await effects('tickets', outcome.sagaId)).toEqual([]);
    // The declined action rolled back its barrier row, so the payment compensation found nothing to undo. (A
    // participant reports a command once its reply is confirmed, which may be after the saga has ended.)
    await expect
      .poll(() => outcomes.filter((o) => o.role === 'payments' && o.kind === 'compensate').at(-1)?.outcome)
      .toBe('null-compensation');
  });

  it('retries a step that timed out; the barrier answers the second command with the first output', async () => {
    const outcome = await runner.run(definition, {
      seat: 'A3',
      amount: 10,
      slow: { role: 'tickets', ms: 2_500 },
    });
    expect(outcome.status).toBe('completed');
    if (outcome.status !== 'completed') return;
    expect(await effects('tickets', outcome.sagaId)).toEqual(['applied']);
    const ticketId = (
      await pool('tickets').query('SELECT id FROM tickets_effects WHERE saga_id = $1', [outcome.sagaId])
    ).rows[0].id;
    expect(outcome.result.tickets).toEqual({ id: ticketId });
    // The second command may be answered after the saga finished (the first reply answered both attempts).
    await expect
      .poll(() => outcomes.filter((o) => o.role === 'tickets' && o.kind === 'action').map((o) => o.outcome))
      .toEqual(expect.arrayContaining(['applied', 'duplicate']));
  });
});
