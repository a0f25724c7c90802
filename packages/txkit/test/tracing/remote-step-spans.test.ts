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
import { recordTraces } from '../support/trace-recorder.js';
import { deleteQueues, uniqueName } from '../transport/broker-control.js';
import {
  bookingSaga,
  createEffectTable,
  ROLES,
  type Role,
  startParticipant,
} from '../transport/fixtures/booking.js';

// One trace id end to end across a real broker: each remote step's command carries its attempt's traceparent,
// and the participant's span (and the handler's work) continues that trace as a child of the attempt.

const recorder = recordTraces();
const prefix = uniqueName('remote-trace');
const queues = Object.fromEntries(ROLES.map((role) => [role, `${prefix}.${role}`])) as Record<Role, string>;
const instanceOf: Record<Role, string> = { seats: 'a', payments: 'b', tickets: 'c' };
let dbs: TestDatabases;
let amqp: AmqpConnection;
let remote: RemoteStepClient;
const closers: Array<() => Promise<void>> = [];

function pool(role: Role): pg.Pool {
  return dbs.on(instanceOf[role]).pool;
}

beforeAll(async () => {
  await assertRabbitMqReachable();
  dbs = await createTestDatabases(testCluster(), 'remote step traces');
  for (const role of ROLES) {
    await createEffectTable(pool(role), role);
    const started = await startParticipant({
      role,
      connectionString: dbs.on(instanceOf[role]).connectionString,
      amqpUrl: testAmqpUrl(),
      queue: queues[role],
      connectionName: `${prefix}.${role}`,
    });
    closers.push(started.close);
  }
  amqp = new AmqpConnection({ url: testAmqpUrl(), name: `${prefix}.runner` });
  remote = new RemoteStepClient(amqp, { replyQueue: `${prefix}.replies` });
  await amqp.connect();
});

afterAll(async () => {
  await remote?.stop();
  await amqp?.close();
  for (const close of closers) await close();
  await deleteQueues([...Object.values(queues), `${prefix}.replies`]);
  await recorder.stop();
  await dbs?.drop();
});

describe('remote saga step traces', () => {
  it('the participants’ spans are children of the step attempts, in the saga’s trace', async () => {
    const definition = bookingSaga(remote, queues, 'traced-remote');
    const runner = new SagaRunner({ pool: pool('seats'), id: 'traced-remote-runner', sagas: [definition] });
    await runner.migrate();
    const outcome = await runner.run(definition, { seat: 'T1', amount: 10, decline: true });
    expect(outcome).toMatchObject({ status: 'compensated', failedStep: 'payments' });
    await runner.close();

    const [run] = recorder.named('txkit.saga.run');
    const traceId = run!.spanContext().traceId;
    const handled = recorder.named('txkit.saga.participant');
    // seats (action, then compensation) and payments (declined, then its compensation, a no-op by the barrier).
    expect(
      handled
        .map(
          (s) =>
            `${s.attributes['txkit.step']} ${s.attributes['txkit.step.kind']} ${s.attributes['txkit.outcome']}`,
        )
        .sort(),
    ).toEqual([
      'payments action rejected',
      'payments compensate null-compensation',
      'seats action applied',
      'seats compensate applied',
    ]);
    const attempts = [...recorder.named('txkit.saga.step'), ...recorder.named('txkit.saga.compensation')];
    for (const span of handled) {
      expect(span.spanContext().traceId).toBe(traceId);
      const parent = attempts.find((a) => a.spanContext().spanId === span.parentSpanContext?.spanId);
      expect(parent?.attributes['txkit.step']).toBe(span.attributes['txkit.step']);
      expect(span.attributes['messaging.destination.name']).toBe(
        queues[span.attributes['txkit.step'] as Role],
      );
    }
  });
});
