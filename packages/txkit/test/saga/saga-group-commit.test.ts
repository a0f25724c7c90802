import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCrash } from '../../src/faults.js';
import { type SagaDefinition, saga, withBarrier } from '../../src/index.js';
import { recordSteps } from '../../src/saga/saga-log.js';
import {
  type BookingWorld,
  createBookingWorld,
  freshSchema,
  untilLeasesLapsed,
} from './support/booking-fixture.js';

// Group commit of step records: the record writes of concurrent sagas that queue behind one in flight go out as
// one statement, each saga fenced by its own token — and a crash right after such a batch loses nothing.

let world: BookingWorld;

beforeAll(async () => {
  world = await createBookingWorld('saga group commit');
});
afterAll(() => world?.drop());

/** A barrier-guarded ledger write of `step` in its participant's database. */
function effect(step: 'pay' | 'ticket') {
  return (ctx: { sagaId: string; step: string }) =>
    withBarrier(world.pool(step), ctx, 'action', async (client, gate) => {
      if (gate.apply) {
        await client.query('INSERT INTO ledger (saga_id, step, op) VALUES ($1, $2, $3)', [
          ctx.sagaId,
          step,
          'action',
        ]);
      }
    });
}

/** Two steps; every saga's `pay` waits until `count` sagas reached it, so their records are written together. */
function gatedSaga(count: number): SagaDefinition<unknown, StepOutputsOf> {
  let arrived = 0;
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  return saga<unknown>(`gated-${count}`)
    .step('pay', {
      run: async (ctx) => {
        await effect('pay')(ctx);
        if (++arrived === count) open();
        await gate;
        return { paid: true };
      },
    })
    .step('ticket', { run: async (ctx) => effect('ticket')(ctx) })
    .build() as SagaDefinition<unknown, StepOutputsOf>;
}
type StepOutputsOf = { pay: { paid: boolean }; ticket: undefined };

describe('group commit of step records', () => {
  it('fences each saga of a batched write by its own token', async () => {
    const schema = freshSchema();
    const runner = world.runner({ schema });
    await runner.migrate();
    const ids = [crypto.randomUUID(), crypto.randomUUID()];
    const tokens = [crypto.randomUUID(), crypto.randomUUID()];
    for (const [i, id] of ids.entries()) {
      await world.logPool.query(
        `INSERT INTO ${schema}.saga (id, name, input, status, owner, lease_token, lease_until)
         VALUES ($1, 'x', '{}', 'running', 'test', $2, now() + interval '1 minute')`,
        [id, tokens[i]],
      );
    }
    const { rows } = await world.logPool.query(
      recordSteps(
        `"${schema}"`,
        [
          {
            id: ids[0]!,
            token: tokens[0]!,
            records: [{ step: 'a', attempt: 1, output: { n: 1 } }],
            nextStep: 1,
          },
          // A stale token: this saga was claimed by another runner meanwhile.
          {
            id: ids[1]!,
            token: crypto.randomUUID(),
            records: [{ step: 'a', attempt: 1, output: { n: 2 } }],
            nextStep: 1,
            complete: { result: { a: { n: 2 } } },
          },
        ],
        60_000,
      ),
    );
    expect(rows).toEqual([{ id: ids[0], inserted: 1 }]);
    const steps = await world.logPool.query(`SELECT saga_id, step, output FROM ${schema}.saga_step`);
    expect(steps.rows).toEqual([{ saga_id: ids[0], step: 'a', output: { n: 1 } }]);
    const sagas = await world.logPool.query(
      `SELECT id, status, step FROM ${schema}.saga ORDER BY id = $1 DESC`,
      [ids[0]],
    );
    expect(sagas.rows).toEqual([
      { id: ids[0], status: 'running', step: 1 },
      { id: ids[1], status: 'running', step: 0 },
    ]);
  });

  it('writes the records of sagas that finished a step together in fewer statements', async () => {
    const definition = gatedSaga(3);
    const runner = world.runner({ schema: freshSchema(), sagas: [definition] });
    await runner.migrate();
    const recordWrites: number[] = [];
    runner.on('step:completed', (e) => {
      if (e.step === 'pay') recordWrites.push(runner.logStatementCount);
    });
    const outcomes = await Promise.all([1, 2, 3].map(() => runner.run(definition, {})));
    expect(outcomes.map((o) => o.status)).toEqual(['completed', 'completed', 'completed']);
    // The first pay record goes out alone; the other two queue behind it and share one statement.
    expect(new Set(recordWrites).size).toBe(2);
    for (const o of outcomes)
      expect(await world.ledger(o.sagaId)).toMatchObject({ pay: { action: 1 }, ticket: { action: 1 } });
  });

  it('loses nothing when the process dies right after a batched write (restart under a new runner id)', async () => {
    const definition = gatedSaga(3);
    const schema = freshSchema();
    const dying = world.runner({
      schema,
      id: 'dying',
      sagas: [definition],
      leaseMs: 10 * 60_000,
      faults: (site) => {
        if (site.point === 'saga:after-step-record' && site.step === 'pay') throw new SimulatedCrash(site);
      },
    });
    await dying.migrate();
    const ids: string[] = [];
    dying.on('saga:started', (e) => ids.push(e.sagaId));
    const runs = await Promise.allSettled([1, 2, 3].map(() => dying.run(definition, {})));
    expect(runs.every((r) => r.status === 'rejected' && r.reason instanceof SimulatedCrash)).toBe(true);
    const { rows } = await world.logPool.query(
      `SELECT count(*)::int AS n FROM ${schema}.saga_step WHERE step = 'pay'`,
    );
    expect(rows[0].n).toBe(3);
    await world.logPool.query(`UPDATE ${schema}.saga SET lease_until = now() - interval '1 second'`);
    const restarted = world.runner({ schema, id: 'restarted', sagas: [definition], leaseMs: 300 });
    const { outcomes, errors } = await restarted.recover();
    expect(errors).toEqual([]);
    expect(outcomes.map((o) => o.status)).toEqual(['completed', 'completed', 'completed']);
    await untilLeasesLapsed(world, schema);
    expect((await restarted.recover()).resumed).toBe(0);
    for (const id of ids) {
      expect(await world.ledger(id)).toMatchObject({ pay: { action: 1 }, ticket: { action: 1 } });
      expect(await restarted.outcome(id)).toMatchObject({
        status: 'completed',
        result: { pay: { paid: true } },
      });
    }
  });
});
