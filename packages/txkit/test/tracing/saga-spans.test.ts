import { SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type LocalCompensationContext,
  type LocalStepContext,
  RetryableError,
  type StepOutputs,
  StepRejectedError,
  saga,
} from '../../src/index.js';
import { type BookingWorld, createBookingWorld, freshSchema } from '../saga/support/booking-fixture.js';
import { recordTraces } from '../support/trace-recorder.js';

// The span tree of a compensated saga as an application's OpenTelemetry SDK receives it: the run, one span per
// attempt of each step and compensation (a retry is a second attempt span), and the log's writes.

const recorder = recordTraces();
let world: BookingWorld;

beforeAll(async () => {
  world = await createBookingWorld('saga traces');
});
afterAll(async () => {
  await recorder.stop();
  await world?.drop();
});

function tracedSaga() {
  let ticketAttempts = 0;
  return saga<{ seat: number }>('traced-booking')
    .localStep('reserve', {
      run: async ({ client, input }) => {
        await client.query("INSERT INTO ledger (saga_id, step, op) VALUES ($1, 'reserve', 'action')", [
          `${input.seat}`,
        ]);
      },
      compensate: async ({ client, input }) => {
        await client.query("INSERT INTO ledger (saga_id, step, op) VALUES ($1, 'reserve', 'compensate')", [
          `${input.seat}`,
        ]);
      },
    })
    .guardedStep('pay', {
      pool: world.pool('pay'),
      run: async (ctx: LocalStepContext<{ seat: number }, StepOutputs>) => {
        await ctx.client.query("INSERT INTO ledger (saga_id, step, op) VALUES ($1, 'pay', 'action')", [
          ctx.sagaId,
        ]);
        return { paid: 12 };
      },
      compensate: async (ctx: LocalCompensationContext<{ seat: number }, StepOutputs, unknown>) => {
        await ctx.client.query("INSERT INTO ledger (saga_id, step, op) VALUES ($1, 'pay', 'compensate')", [
          ctx.sagaId,
        ]);
      },
    })
    .step('ticket', {
      run: () => {
        ticketAttempts++;
        if (ticketAttempts === 1) throw new RetryableError('printer busy');
        throw new StepRejectedError('sold-out');
      },
      retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 5 },
    })
    .build();
}

describe('saga traces', () => {
  it('a compensated saga: attempts, the retry, compensations in reverse and log writes under one run span', async () => {
    const definition = tracedSaga();
    const runner = world.runner({ sagas: [definition], schema: freshSchema(), id: 'traced-runner' });
    await runner.migrate();
    const outcome = await runner.run(definition, { seat: 7 });
    expect(outcome).toMatchObject({ status: 'compensated', failedStep: 'ticket', reason: 'sold-out' });
    await runner.idle();

    const [run] = recorder.named('txkit.saga.run');
    expect(run!.attributes).toMatchObject({
      'txkit.saga.name': 'traced-booking',
      'txkit.saga.id': outcome.sagaId,
      'txkit.outcome': 'compensated',
      'txkit.saga.failed_step': 'ticket',
      'txkit.saga.reason': 'sold-out',
    });
    const work = recorder
      .childrenOf(run!)
      .filter((s) => s.name !== 'txkit.saga.log')
      .map((s) => `${s.name} ${s.attributes['txkit.step']} #${s.attributes['txkit.step.attempt']}`);
    expect(work).toEqual([
      'txkit.saga.step reserve #1',
      'txkit.saga.step pay #1',
      'txkit.saga.step ticket #1',
      'txkit.saga.step ticket #2',
      'txkit.saga.compensation pay #1',
      'txkit.saga.compensation reserve #1',
    ]);
    const steps = recorder.childrenOf(run!);
    const attempt = (name: string, step: string, n: number) =>
      steps.find(
        (s) =>
          s.name === name && s.attributes['txkit.step'] === step && s.attributes['txkit.step.attempt'] === n,
      )!;
    expect(attempt('txkit.saga.step', 'reserve', 1).attributes).toMatchObject({
      'txkit.step.type': 'local',
      'db.namespace': world.dbs.on('a').database,
    });
    expect(attempt('txkit.saga.step', 'pay', 1).attributes).toMatchObject({
      'txkit.step.type': 'guarded',
      'db.namespace': world.dbs.on('b').database,
    });
    expect(attempt('txkit.saga.step', 'ticket', 1).attributes).toMatchObject({ 'error.type': 'RETRYABLE' });
    expect(attempt('txkit.saga.step', 'ticket', 2).attributes).toMatchObject({
      'error.type': 'STEP_REJECTED',
    });
    expect(attempt('txkit.saga.step', 'ticket', 2).status.code).toBe(SpanStatusCode.ERROR);
    expect(attempt('txkit.saga.compensation', 'pay', 1).status.code).toBe(SpanStatusCode.UNSET);
    // The turn to compensation and the compensations' records went to the log, as spans of this saga.
    const writes = steps
      .filter((s) => s.name === 'txkit.saga.log')
      .map((s) => s.attributes['txkit.saga.log.write']);
    expect(writes).toEqual(expect.arrayContaining(['state', 'compensation']));
  });
});
