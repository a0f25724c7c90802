import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SagaFaultPoint, SimulatedCrash } from '../../src/faults.js';
import {
  type LocalCompensationContext,
  type LocalStepContext,
  type StepOutputs,
  StepRejectedError,
  saga,
} from '../../src/index.js';
import {
  type BookingWorld,
  COUNTING_LEASE_MS,
  createBookingWorld,
  freshSchema,
  untilLeasesLapsed,
} from './support/booking-fixture.js';
import { crashAt } from './support/crash-at.js';

// Guarded steps keep their record (the barrier row, with the output) in their own database, in their own
// transaction: the saga log writes nothing for them, and when the last step is guarded run() answers before the
// saga's end is in the log. Each new durability point is crashed here and restarted under a new runner id.

let world: BookingWorld;
type Shape = 'sequential' | 'parallel';
let definitions: Record<Shape, ReturnType<typeof guardedSaga>>;

beforeAll(async () => {
  world = await createBookingWorld('saga guarded');
  definitions = { sequential: guardedSaga('sequential'), parallel: guardedSaga('parallel') };
});
afterAll(() => world?.drop());

interface Input {
  rejectTicket?: boolean;
}

const compensated: { step: string; output: unknown }[] = [];

/**
 * pay (database b) and ticket (database c), both guarded — one after the other, or as parallel branches; each
 * output is random, so a re-computed one shows.
 */
function guardedSaga(shape: Shape) {
  const pay = {
    pool: world.pool('pay'),
    run: async (ctx: LocalStepContext<Input, StepOutputs>) => {
      await ctx.client.query("INSERT INTO ledger (saga_id, step, op) VALUES ($1, 'pay', 'action')", [
        ctx.sagaId,
      ]);
      return { payment: randomUUID() };
    },
    compensate: async (ctx: LocalCompensationContext<Input, StepOutputs, unknown>) => {
      compensated.push({ step: 'pay', output: ctx.output });
      await ctx.client.query("INSERT INTO ledger (saga_id, step, op) VALUES ($1, 'pay', 'compensate')", [
        ctx.sagaId,
      ]);
    },
    retry: { maxAttempts: 2, initialDelayMs: 5, maxDelayMs: 5 },
  };
  const ticket = {
    pool: world.pool('ticket'),
    run: async (ctx: LocalStepContext<Input, StepOutputs>) => {
      if (ctx.input.rejectTicket) throw new StepRejectedError('sold-out');
      await ctx.client.query("INSERT INTO ledger (saga_id, step, op) VALUES ($1, 'ticket', 'action')", [
        ctx.sagaId,
      ]);
      return { ticket: randomUUID() };
    },
    retry: { maxAttempts: 2, initialDelayMs: 5, maxDelayMs: 5 },
  };
  const named = saga<Input>(`guarded-${shape}`);
  return shape === 'parallel'
    ? named.parallelGuarded({ pay, ticket }).build()
    : named.guardedStep('pay', pay).guardedStep('ticket', ticket).build();
}

for (const shape of ['sequential', 'parallel'] as const) {
  describe(`guarded steps (${shape}): records with the steps`, () => {
    it('writes no log record for a guarded step, and answers before the end is in the log', async () => {
      const runner = world.runner({
        schema: freshSchema(),
        sagas: [definitions[shape]],
        leaseMs: COUNTING_LEASE_MS,
      });
      await runner.migrate();
      const before = runner.logStatementCount;
      const outcome = await runner.run(definitions[shape], {});
      expect(outcome.status).toBe('completed');
      if (outcome.status !== 'completed') return;
      // close() waits for the end, which is written after the answer: the insert and the end, nothing per step.
      await runner.close();
      expect(runner.logStatementCount - before).toBe(2);
      expect(await runner.outcome(outcome.sagaId)).toEqual(outcome);
      const { rows } = await world
        .pool('ticket')
        .query("SELECT output FROM txkit.barrier WHERE saga_id = $1 AND step = 'ticket' AND op = 'action'", [
          outcome.sagaId,
        ]);
      expect(rows).toEqual([{ output: outcome.result.ticket }]);
      expect(await world.ledger(outcome.sagaId)).toMatchObject({
        pay: { action: 1, compensate: 0 },
        ticket: { action: 1, compensate: 0 },
      });
    });

    async function crashAndRestart(point: SagaFaultPoint, step: string, input: Input) {
      const schema = freshSchema();
      const faults = crashAt(point, step);
      const dying = world.runner({
        schema,
        id: 'dying',
        leaseMs: 10 * 60_000,
        faults,
        sagas: [definitions[shape]],
      });
      await dying.migrate();
      let sagaId = '';
      const seen: Record<string, unknown> = {};
      dying.on('saga:started', (e) => {
        sagaId = e.sagaId;
      });
      dying.on('step:completed', (e) => {
        seen[e.step] = true;
      });
      await expect(dying.run(definitions[shape], input)).rejects.toBeInstanceOf(SimulatedCrash);
      expect(faults.hits).toBe(1);
      // The process is gone: its lease ends as the clock would end it, and a new runner (a new id) takes over.
      await world.logPool.query(
        `UPDATE ${schema}.saga SET lease_until = now() - interval '1 second' WHERE status IN ('running', 'compensating')`,
      );
      const restarted = world.runner({ schema, id: 'restarted', leaseMs: 300, sagas: [definitions[shape]] });
      const { outcomes, errors } = await restarted.recover();
      expect(errors).toEqual([]);
      expect(outcomes).toHaveLength(1);
      await untilLeasesLapsed(world, schema);
      expect((await restarted.recover()).resumed).toBe(0);
      return {
        outcome: outcomes[0]!,
        logged: await restarted.outcome(sagaId),
        ledger: await world.ledger(sagaId),
        sagaId,
      };
    }

    async function storedOutputs(sagaId: string) {
      const read = async (step: 'pay' | 'ticket') =>
        (
          await world
            .pool(step)
            .query("SELECT output FROM txkit.barrier WHERE saga_id = $1 AND step = $2 AND op = 'action'", [
              sagaId,
              step,
            ])
        ).rows[0]?.output;
      return { pay: await read('pay'), ticket: await read('ticket') };
    }

    it('resumes a crash after the last step committed and before the end was logged to the same outcome and outputs', async () => {
      const { outcome, logged, ledger, sagaId } = await crashAndRestart(
        'saga:after-step-record',
        'ticket',
        {},
      );
      expect(outcome.status).toBe('completed');
      // The outputs are the ones the first run committed with its steps, not new ones (they are random).
      expect(outcome).toMatchObject({ result: await storedOutputs(sagaId) });
      expect(logged).toEqual(outcome);
      expect(ledger).toMatchObject({
        pay: { action: 1, compensate: 0 },
        ticket: { action: 1, compensate: 0 },
      });
    });

    for (const [point, step] of [
      ['saga:after-step-effect', 'pay'],
      ['saga:after-step-record', 'pay'],
      ['saga:after-step-effect', 'ticket'],
    ] as const) {
      it(`completes after a crash at ${point} of ${step}, each effect once`, async () => {
        const { outcome, logged, ledger, sagaId } = await crashAndRestart(point, step, {});
        expect(outcome).toMatchObject({ status: 'completed', result: await storedOutputs(sagaId) });
        expect(logged).toEqual(outcome);
        expect(ledger).toMatchObject({
          pay: { action: 1, compensate: 0 },
          ticket: { action: 1, compensate: 0 },
        });
      });
    }

    it('compensates a guarded step with its stored output after a crash, under a new runner id', async () => {
      compensated.length = 0;
      const { outcome, ledger, sagaId } = await crashAndRestart('saga:before-compensation', 'pay', {
        rejectTicket: true,
      });
      expect(outcome).toMatchObject({ status: 'compensated', failedStep: 'ticket', reason: 'sold-out' });
      expect(ledger).toMatchObject({
        pay: { action: 1, compensate: 1 },
        ticket: { action: 0, compensate: 0 },
      });
      // The new runner never saw pay's output in memory: the barrier row gave it.
      expect(compensated).toEqual([{ step: 'pay', output: (await storedOutputs(sagaId)).pay }]);
    });
  });
}
