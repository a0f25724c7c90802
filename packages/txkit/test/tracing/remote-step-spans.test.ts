import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SagaRunner } from '../../src/saga/saga-runner.js';
import {
  bookingSaga,
  type RemoteBookingWorld,
  type Role,
  startRemoteBookingWorld,
} from '../remote-saga/fixtures/booking.js';
import { uniqueName } from '../support/broker-control.js';
import { recordTraces } from '../support/trace-recorder.js';

// One trace id end to end across a real broker: each remote step's command carries its attempt's traceparent,
// and the participant's span (and the handler's work) continues that trace as a child of the attempt.

const recorder = recordTraces();
let world: RemoteBookingWorld;

beforeAll(async () => {
  world = await startRemoteBookingWorld(uniqueName('remote-trace'), 'remote step traces');
});

afterAll(async () => {
  await world?.close();
  await recorder.stop();
});

describe('remote saga step traces', () => {
  it('the participants’ spans are children of the step attempts, in the saga’s trace', async () => {
    const definition = bookingSaga(world.remote, world.queues, 'traced-remote');
    const runner = new SagaRunner({
      pool: world.pool('seats'),
      id: 'traced-remote-runner',
      sagas: [definition],
    });
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
        world.queues[span.attributes['txkit.step'] as Role],
      );
    }
  });
});
