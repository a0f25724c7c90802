import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultHook, type SagaFaultPoint, SimulatedCrash } from '../../src/faults.js';
import { StepRejectedError, saga } from '../../src/index.js';
import {
  type BookingWorld,
  COUNTING_LEASE_MS,
  createBookingWorld,
  freshSchema,
  untilLeasesLapsed,
} from './support/booking-fixture.js';
import { type BookingDefinition, parallelBookingSaga } from './support/booking-saga.js';
import { crashAt } from './support/crash-at.js';

// Parallel branches: `saga(...).parallel({...})` runs a group's steps at once, writes their records in one
// statement, and on a failure compensates every branch of the group (once they all ended) and the steps before.

let world: BookingWorld;
let parallel: BookingDefinition;

beforeAll(async () => {
  world = await createBookingWorld('saga parallel');
  parallel = parallelBookingSaga(world);
});
afterAll(() => world?.drop());

/** Resolves when `ready()` returns true, polling; rejects after `ms` (so a branch never waits forever). */
async function until(ready: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('parallel branches', () => {
  it('runs the branches of a group at the same time and records them in one write', async () => {
    const started = new Set<string>();
    const seen: unknown[] = [];
    // Each branch waits until the other has started: the saga completes only if both run at once.
    const branch = (name: string, other: string) => ({
      run: async (ctx: { outputs: unknown }) => {
        started.add(name);
        seen.push(ctx.outputs);
        await until(() => started.has(other), `${other} to start`);
        return { [name]: true };
      },
    });
    const definition = saga<unknown>('side-by-side')
      .step('first', { run: () => 1 })
      .parallel({ left: branch('left', 'right'), right: branch('right', 'left') })
      .step('last', { run: (ctx) => ({ both: [ctx.outputs.left, ctx.outputs.right] }) })
      .build();
    const runner = world.runner({ schema: freshSchema(), sagas: [definition], leaseMs: COUNTING_LEASE_MS });
    await runner.migrate();
    const before = runner.logStatementCount;
    const outcome = await runner.run(definition, {});
    expect(outcome).toMatchObject({
      status: 'completed',
      result: {
        first: 1,
        left: { left: true },
        right: { right: true },
        last: { both: [{ left: true }, { right: true }] },
      },
    });
    // Each branch sees the outputs of the steps before the group, not its sibling's.
    expect(seen).toEqual([{ first: 1 }, { first: 1 }]);
    // Start, first's record, the group's records together, last's record (which completes the saga).
    expect(runner.logStatementCount - before).toBe(4);
    const history = await runner.history(outcome.sagaId);
    expect(history?.records.map((r) => `${r.kind} ${r.step}`).sort()).toEqual([
      'action first',
      'action last',
      'action left',
      'action right',
    ]);
  });

  it('compensates every branch once all have ended — one that finished after its sibling failed too', async () => {
    const log: string[] = [];
    let failedAt = 0;
    const definition = saga<unknown>('one-fails')
      .step('before', { run: () => 'b', compensate: () => void log.push('undo before') })
      .parallel({
        slow: {
          run: async () => {
            // Finishes only after its sibling failed: compensation must still undo it.
            await until(() => failedAt > 0, 'the sibling to fail');
            log.push('slow done');
            return 's';
          },
          compensate: (ctx) => void log.push(`undo slow (${ctx.output}) for ${ctx.failure.step}`),
        },
        failing: {
          run: () => {
            failedAt = Date.now();
            throw new StepRejectedError('no-way');
          },
          compensate: (ctx) => void log.push(`undo failing (${ctx.output})`),
        },
      })
      .step('never', { run: () => void log.push('never ran') })
      .build();
    const runner = world.runner({ schema: freshSchema(), sagas: [definition] });
    await runner.migrate();
    const outcome = await runner.run(definition, {});
    expect(outcome).toMatchObject({ status: 'compensated', failedStep: 'failing', reason: 'no-way' });
    // Reverse group order; within the failed group every branch, the failed one included (its action may
    // have taken effect before it failed: the barrier makes that compensation a no-op where it did not).
    expect(log).toEqual([
      'slow done',
      'undo failing (undefined)',
      'undo slow (s) for failing',
      'undo before',
    ]);
    const history = await runner.history(outcome.sagaId);
    // The finished branch's record was written before the switch to compensation: recovery would know it.
    expect(history?.records.filter((r) => r.kind === 'action').map((r) => `${r.step} ${r.status}`)).toEqual(
      expect.arrayContaining(['before done', 'slow done', 'failing failed']),
    );
  });

  it('refuses local steps as branches and empty groups', () => {
    expect(() => saga<unknown>('empty').parallel({})).toThrow(/needs a step/);
    expect(() =>
      saga<unknown>('dup')
        .step('a', { run: () => 1 })
        .parallel({ a: { run: () => 2 } } as never),
    ).toThrow(/already has a step named 'a'/);
  });
});

describe('parallel branches: crash at each point, restart under a new runner id', () => {
  const done = { action: 1, compensate: 0 };
  const undone = { action: 1, compensate: 1 };
  const never = { action: 0, compensate: 0 };

  async function crashAndRecover(
    faults: FaultHook & { hits: number },
    input: { label: string; rejectAt?: string },
  ) {
    const schema = freshSchema();
    const dying = world.runner({ schema, id: 'dying', leaseMs: 10 * 60_000, faults, sagas: [parallel] });
    await dying.migrate();
    let sagaId = '';
    dying.on('saga:started', (e) => {
      sagaId = e.sagaId;
    });
    await expect(dying.run(parallel, input)).rejects.toBeInstanceOf(SimulatedCrash);
    expect(faults.hits).toBe(1);
    // The dead runner's lease ends as the clock would end it; a new runner (another id) takes the saga over.
    await world.logPool.query(
      `UPDATE ${schema}.saga SET lease_until = now() - interval '1 second' WHERE status IN ('running', 'compensating')`,
    );
    const restarted = world.runner({ schema, id: 'restarted', leaseMs: 300, sagas: [parallel] });
    const finished = await restarted.outcome(sagaId);
    const outcome = finished ?? (await restarted.recover()).outcomes[0];
    await untilLeasesLapsed(world, schema);
    expect((await restarted.recover()).resumed).toBe(0);
    return { outcome, ledger: await world.ledger(sagaId) };
  }

  const forward: [SagaFaultPoint, string][] = [
    ['saga:after-step-effect', 'pay'],
    ['saga:after-step-effect', 'ticket'],
    // After the group's single record write: nothing may run twice.
    ['saga:after-step-record', 'pay'],
    ['saga:after-step-record', 'ticket'],
  ];
  for (const [point, step] of forward) {
    it(`completes after a crash at ${point} of branch ${step}, each effect once`, async () => {
      const { outcome, ledger } = await crashAndRecover(crashAt(point, step), { label: `${point}-${step}` });
      expect(outcome?.status).toBe('completed');
      expect(ledger).toEqual({ seat: done, pay: done, ticket: done });
    });
  }

  const backward: [SagaFaultPoint, string][] = [
    ['saga:after-step-effect', 'pay'],
    ['saga:after-compensation-effect', 'pay'],
    ['saga:after-compensation-record', 'ticket'],
    ['saga:after-compensation-effect', 'seat'],
  ];
  for (const [point, step] of backward) {
    it(`compensates both branches after a crash at ${point} of ${step} when ticket is rejected`, async () => {
      const { outcome, ledger } = await crashAndRecover(crashAt(point, step), {
        label: `${point}-${step}-rejected`,
        rejectAt: 'ticket',
      });
      expect(outcome).toMatchObject({
        status: 'compensated',
        failedStep: 'ticket',
        reason: 'ticket-rejected',
      });
      expect(ledger).toEqual({ seat: undone, pay: undone, ticket: never });
    });
  }
});
