import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultHook, type SagaFaultPoint, SimulatedCrash } from '../../src/faults.js';
import { saga } from '../../src/index.js';
import {
  type BookingWorld,
  createBookingWorld,
  freshSchema,
  untilLeasesLapsed,
} from './support/booking-fixture.js';
import { bookingSaga } from './support/booking-saga.js';
import { crashAt } from './support/crash-at.js';

// Each durability rule of the saga runner, crashed at its fault point (SimulatedCrash = the process dies
// there: no further SQL), then recovered by another runner: the saga must end completed or fully
// compensated, and no participant effect may be applied twice (the ledger counts applied effects).

let world: BookingWorld;
const leaseMs = 300;

beforeAll(async () => {
  world = await createBookingWorld('saga crash');
});
afterAll(() => world?.drop());

/** Runs until the crash, checks the run rejected with it, then recovers with a healthy runner. */
async function crashAndRecover(faults: FaultHook & { hits: number }, input: Parameters<typeof run>[1]) {
  const schema = freshSchema();
  // A lease that cannot run out during the test, so that it is certainly live when the healthy runner first looks;
  // the test then ends it, as the clock would have.
  const dying = world.runner({ schema, id: 'dying', leaseMs: 10 * 60_000, faults });
  await dying.migrate();
  let sagaId = '';
  dying.on('saga:started', (e) => {
    sagaId = e.sagaId;
  });
  await expect(run(dying, input)).rejects.toBeInstanceOf(SimulatedCrash);
  expect(faults.hits).toBe(1);
  expect(dying.runningCount).toBe(0);

  const healthy = world.runner({ schema, id: 'healthy', leaseMs });
  // A live lease is never taken over.
  expect((await healthy.recover()).resumed).toBe(0);
  await world.logPool.query(
    `UPDATE ${schema}.saga SET lease_until = now() - interval '1 second' WHERE status IN ('running', 'compensating')`,
  );
  // A crash after the last record (it ends the saga in the same statement) leaves nothing to recover.
  const finished = await healthy.outcome(sagaId);
  if (finished) {
    expect((await healthy.recover()).resumed).toBe(0);
    return { outcome: finished, ledger: await world.ledger(sagaId), healthy };
  }
  const { outcomes, errors } = await healthy.recover();
  expect(errors).toEqual([]);
  expect(outcomes).toHaveLength(1);
  expect(outcomes[0]?.sagaId).toBe(sagaId);
  // Nothing left to recover, even once every lease has run out.
  await untilLeasesLapsed(world, schema);
  expect((await healthy.recover()).resumed).toBe(0);
  return { outcome: outcomes[0]!, ledger: await world.ledger(sagaId), healthy };
}

function run(runner: ReturnType<BookingWorld['runner']>, input: { label: string; rejectAt?: string }) {
  return runner.run(world.definition, input);
}

const done = { action: 1, compensate: 0 };
const undone = { action: 1, compensate: 1 };
const never = { action: 0, compensate: 0 };

describe('saga crash recovery (fault hooks)', () => {
  const forwardPoints: SagaFaultPoint[] = [
    'saga:before-step',
    'saga:after-step-effect',
    'saga:after-step-record',
  ];
  for (const point of forwardPoints) {
    for (const step of ['seat', 'pay', 'ticket']) {
      it(`completes after a crash at ${point} of ${step}, each effect once`, async () => {
        const { outcome, ledger } = await crashAndRecover(crashAt(point, step), {
          label: `${point}-${step}`,
        });
        expect(outcome.status).toBe('completed');
        expect(ledger).toEqual({ seat: done, pay: done, ticket: done });
      });
    }
  }

  const compensationPoints: SagaFaultPoint[] = [
    'saga:before-compensation',
    'saga:after-compensation-effect',
    'saga:after-compensation-record',
  ];
  for (const point of compensationPoints) {
    for (const step of ['ticket', 'pay', 'seat']) {
      it(`finishes compensating after a crash at ${point} of ${step}, each effect once`, async () => {
        const { outcome, ledger } = await crashAndRecover(crashAt(point, step), {
          label: `${point}-${step}`,
          rejectAt: 'ticket',
        });
        expect(outcome).toMatchObject({
          status: 'compensated',
          failedStep: 'ticket',
          reason: 'ticket-rejected',
        });
        // The failed ticket step is compensated too (its action may have run): the barrier makes it a no-op.
        expect(ledger).toEqual({ seat: undone, pay: undone, ticket: never });
      });
    }
  }

  it('without the barrier, the same crash applies an effect twice (what the barrier is for)', async () => {
    world.useBarrier = false;
    try {
      const { outcome, ledger } = await crashAndRecover(crashAt('saga:after-step-effect', 'pay'), {
        label: 'no-barrier',
      });
      expect(outcome.status).toBe('completed');
      expect(ledger.pay.action).toBe(2);
    } finally {
      world.useBarrier = true;
    }
  });

  it('rolls a local step back with its record when the process dies before the commit', async () => {
    await world.logPool.query('CREATE TABLE IF NOT EXISTS crash_notes (saga_id uuid, step text)');
    const definition = saga<unknown>('local-crash')
      .localStep('one', {
        run: async (ctx) => {
          await ctx.client.query('INSERT INTO crash_notes VALUES ($1, $2)', [ctx.sagaId, ctx.step]);
        },
      })
      .localStep('two', {
        run: async (ctx) => {
          await ctx.client.query('INSERT INTO crash_notes VALUES ($1, $2)', [ctx.sagaId, ctx.step]);
        },
      })
      .build();
    const schema = freshSchema();
    const faults = crashAt('saga:after-step-effect', 'two');
    const dying = world.runner({ schema, leaseMs, faults, sagas: [definition] });
    await dying.migrate();
    await expect(dying.run(definition, {})).rejects.toBeInstanceOf(SimulatedCrash);
    await untilLeasesLapsed(world, schema);
    const healthy = world.runner({ schema, leaseMs, sagas: [definition] });
    const { outcomes } = await healthy.recover();
    expect(outcomes).toMatchObject([{ status: 'completed' }]);
    const { rows } = await world.logPool.query(
      'SELECT step, count(*)::int AS n FROM crash_notes WHERE saga_id = $1 GROUP BY step ORDER BY step',
      [outcomes[0]?.sagaId],
    );
    expect(rows).toEqual([
      { step: 'one', n: 1 },
      { step: 'two', n: 1 },
    ]);
  });

  it('leaves no trace when the process dies inside a local first step (the saga insert rides in it)', async () => {
    await world.logPool.query('CREATE TABLE IF NOT EXISTS first_notes (saga_id uuid)');
    const definition = saga<unknown>('local-first')
      .localStep('first', {
        run: async (ctx) => {
          await ctx.client.query('INSERT INTO first_notes VALUES ($1)', [ctx.sagaId]);
        },
      })
      .build();
    const schema = freshSchema();
    const dying = world.runner({
      schema,
      leaseMs,
      faults: crashAt('saga:after-step-effect', 'first'),
      sagas: [definition],
    });
    await dying.migrate();
    let sagaId = '';
    dying.on('step:started', (e) => {
      sagaId = e.sagaId;
    });
    await expect(dying.run(definition, {})).rejects.toBeInstanceOf(SimulatedCrash);
    const saved = await world.logPool.query(`SELECT id FROM ${schema}.saga`);
    const notes = await world.logPool.query('SELECT * FROM first_notes WHERE saga_id = $1', [sagaId]);
    expect(saved.rows).toEqual([]);
    expect(notes.rows).toEqual([]);
  });

  it('defers a record to the next write, and re-runs the deferred step after a crash, effect once', async () => {
    const definition = bookingSaga({ ...world, deferRecords: ['pay'] });
    const schema = freshSchema();
    // A lease long enough that no renewal statement adds to the count on a busy machine.
    const runner = world.runner({ schema, leaseMs: 10_000, sagas: [definition] });
    await runner.migrate();
    const before = runner.logStatementCount;
    const ok = await runner.run(definition, { label: 'deferred' });
    expect(ok.status).toBe('completed');
    expect(runner.logStatementCount - before).toBe(3); // start, seat, ticket (+ pay's record)
    const { rows } = await world.logPool.query(
      `SELECT step FROM ${schema}.saga_step WHERE saga_id = $1 ORDER BY step`,
      [ok.sagaId],
    );
    expect(rows.map((r) => r.step)).toEqual(['pay', 'seat', 'ticket']);

    const faults = crashAt('saga:after-step-effect', 'ticket');
    const dying = world.runner({ schema, id: 'dying', leaseMs, faults, sagas: [definition] });
    let sagaId = '';
    dying.on('saga:started', (e) => {
      sagaId = e.sagaId;
    });
    await expect(dying.run(definition, { label: 'deferred-crash' })).rejects.toBeInstanceOf(SimulatedCrash);
    const steps = await world.logPool.query(`SELECT step FROM ${schema}.saga_step WHERE saga_id = $1`, [
      sagaId,
    ]);
    expect(steps.rows.map((r) => r.step)).toEqual(['seat']); // pay's record was still deferred
    await untilLeasesLapsed(world, schema);
    const healthy = world.runner({ schema, id: 'healthy', leaseMs, sagas: [definition] });
    const { outcomes } = await healthy.recover();
    expect(outcomes).toMatchObject([{ status: 'completed', sagaId }]);
    expect(await world.ledger(sagaId)).toEqual({ seat: done, pay: done, ticket: done });
  });

  it('writes deferred records before compensating', async () => {
    const definition = bookingSaga({ ...world, deferRecords: ['seat', 'pay'] });
    const schema = freshSchema();
    const runner = world.runner({ schema, leaseMs, sagas: [definition] });
    await runner.migrate();
    const outcome = await runner.run(definition, { label: 'deferred-reject', rejectAt: 'ticket' });
    expect(outcome).toMatchObject({ status: 'compensated', failedStep: 'ticket' });
    expect(await world.ledger(outcome.sagaId)).toEqual({ seat: undone, pay: undone, ticket: never });
    const { rows } = await world.logPool.query(
      `SELECT step, kind, status FROM ${schema}.saga_step WHERE saga_id = $1 ORDER BY kind, step`,
      [outcome.sagaId],
    );
    expect(rows).toEqual([
      { step: 'pay', kind: 'action', status: 'done' },
      { step: 'seat', kind: 'action', status: 'done' },
      { step: 'ticket', kind: 'action', status: 'failed' },
      { step: 'pay', kind: 'compensation', status: 'done' },
      { step: 'seat', kind: 'compensation', status: 'done' },
      { step: 'ticket', kind: 'compensation', status: 'done' },
    ]);
  });

  it('a failing (non-crash) fault after a record leaves the saga to recovery, which finishes it', async () => {
    const schema = freshSchema();
    let thrown = false;
    const faults: FaultHook = (site) => {
      if (site.point === 'saga:after-step-record' && site.step === 'seat' && !thrown) {
        thrown = true;
        throw new Error('runner bug');
      }
    };
    const runner = world.runner({ schema, leaseMs, faults });
    await runner.migrate();
    await expect(runner.run(world.definition, { label: 'runner-bug' })).rejects.toThrow('runner bug');
    await untilLeasesLapsed(world, schema);
    const { outcomes } = await runner.recover();
    expect(outcomes).toMatchObject([{ status: 'completed' }]);
    expect(await world.ledger(outcomes[0]!.sagaId)).toEqual({ seat: done, pay: done, ticket: done });
  });
});
