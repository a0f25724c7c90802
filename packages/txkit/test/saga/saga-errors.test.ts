import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SagaLeaseLostError, SagaLogUnavailableError } from '../../src/errors.js';
import { SimulatedCrash } from '../../src/faults.js';
import {
  type CompensationContext,
  InDoubtError,
  type SagaFailure,
  type StepOutputs,
  StepRejectedError,
  saga,
} from '../../src/index.js';
import { type BookingWorld, createBookingWorld, freshSchema } from './support/booking-fixture.js';

// The saga's own in-doubt errors carry codes of their own (still InDoubtErrors, so older catch blocks hold),
// and a compensation knows the failure that caused it — in the run that failed and after a restart alike.

let world: BookingWorld;

beforeAll(async () => {
  world = await createBookingWorld('saga errors');
});
afterAll(() => world?.drop());

describe('saga errors and the compensation context', () => {
  it('gives a compensation the failure that caused it, also after a restart under a new runner id', async () => {
    const failures: SagaFailure[] = [];
    const definition = saga<unknown>('why')
      .step('charge', {
        run: () => ({ paid: 5 }),
        compensate: (ctx: CompensationContext<unknown, StepOutputs, { paid: number }>) => {
          failures.push(ctx.failure);
        },
      })
      .step('ship', {
        run: () => {
          throw new StepRejectedError('out-of-stock', 'nothing left to ship');
        },
      })
      .build();
    const expected = {
      step: 'ship',
      reason: 'out-of-stock',
      error: {
        name: 'StepRejectedError',
        code: 'STEP_REJECTED',
        reason: 'out-of-stock',
        message: 'nothing left to ship',
      },
    };

    const runner = world.runner({ schema: freshSchema(), sagas: [definition] });
    await runner.migrate();
    expect(await runner.run(definition, {})).toMatchObject({ status: 'compensated', reason: 'out-of-stock' });
    expect(failures).toEqual([expected]);

    // The process dies before the compensation; the failure comes back from the log for the new runner.
    failures.length = 0;
    const schema = freshSchema();
    const dying = world.runner({
      schema,
      id: 'dying',
      sagas: [definition],
      leaseMs: 10 * 60_000,
      faults: (site) => {
        if (site.point === 'saga:before-compensation') throw new SimulatedCrash(site);
      },
    });
    await dying.migrate();
    await expect(dying.run(definition, {})).rejects.toBeInstanceOf(SimulatedCrash);
    await world.logPool.query(`UPDATE ${schema}.saga SET lease_until = now() - interval '1 second'`);
    const restarted = world.runner({ schema, id: 'restarted', sagas: [definition] });
    const { outcomes } = await restarted.recover();
    expect(outcomes).toMatchObject([{ status: 'compensated', failedStep: 'ship' }]);
    expect(failures).toEqual([expected]);
  });

  it('rejects with SagaLogUnavailableError (code SAGA_LOG_UNAVAILABLE) when the log cannot be reached', async () => {
    // A pool to a port nothing listens on: every log write fails with a connection error.
    const dead = new pg.Pool({ host: '127.0.0.1', port: 1, connectionTimeoutMillis: 500 });
    dead.on('error', () => {});
    const definition = saga<unknown>('offline')
      .step('a', { run: () => 1 })
      .build();
    const runner = world.runner({
      pool: dead,
      schema: freshSchema(),
      sagas: [definition],
      logRetry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
    });
    const error = await runner.run(definition, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SagaLogUnavailableError);
    expect(error).toBeInstanceOf(InDoubtError);
    expect(error).toMatchObject({ code: 'SAGA_LOG_UNAVAILABLE' });
    await dead.end();
  });

  it('never rejects with a raw database error: one from the log is a SagaLogUnavailableError with it as cause', async () => {
    const schema = freshSchema();
    const definition = saga<unknown>('log-refuses')
      .localStep('first', {
        run: () => {
          throw new StepRejectedError('no');
        },
      })
      .build();
    const runner = world.runner({ schema, sagas: [definition] });
    await runner.migrate();
    // The log refuses the row that records the failed first step (a raw DatabaseError from pg, not retryable).
    await world.logPool.query(`
      CREATE FUNCTION ${schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'log refuses'; END $$;
      CREATE TRIGGER refuse BEFORE INSERT ON ${schema}.saga FOR EACH ROW
        WHEN (NEW.status = 'compensated') EXECUTE FUNCTION ${schema}.refuse();`);
    const error = await runner.run(definition, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SagaLogUnavailableError);
    expect((error as Error).cause).toMatchObject({ message: 'log refuses' });
  });

  it('aborts the step of a runner that lost its lease with SagaLeaseLostError (code SAGA_LEASE_LOST)', async () => {
    const schema = freshSchema();
    const signals: AbortSignal[] = [];
    const definition = saga<unknown>('taken-over')
      .step('slow', {
        run: async (ctx) => {
          signals.push(ctx.signal);
          if (signals.length > 1) return 'second';
          // The first attempt waits for its signal, bounded so that a broken fence fails the test instead of hanging.
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('never aborted')), 20_000);
            ctx.signal.addEventListener('abort', () => {
              clearTimeout(timer);
              resolve();
            });
          });
          return 'first';
        },
      })
      .build();
    const a = world.runner({ schema, id: 'a', leaseMs: 1_000, sagas: [definition] });
    const b = world.runner({ schema, id: 'b', leaseMs: 1_000, sagas: [definition] });
    await a.migrate();
    const first = a.run(definition, {});
    await expect.poll(() => signals.length, { timeout: 10_000 }).toBe(1);
    await world.logPool.query(`UPDATE ${schema}.saga SET lease_until = now() - interval '1 second'`);
    const { outcomes } = await b.recover();
    expect(outcomes).toMatchObject([{ status: 'completed', result: { slow: 'second' } }]);
    await expect.poll(() => signals[0]?.aborted, { timeout: 10_000 }).toBe(true);
    expect(signals[0]?.reason).toBeInstanceOf(SagaLeaseLostError);
    expect(signals[0]?.reason).toMatchObject({ code: 'SAGA_LEASE_LOST' });
    // run() itself answers with the new owner's outcome.
    expect(await first).toEqual(outcomes[0]);
  });
});
