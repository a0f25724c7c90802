import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultHook, isSimulatedCrash, SimulatedCrash } from '../../src/faults.js';
import { saga } from '../../src/index.js';
import {
  type BookingWorld,
  createBookingWorld,
  expectEverySagaSettledOnce,
  freshSchema,
  untilLeasesLapsed,
} from './support/booking-fixture.js';
import { bookingSaga, stepNames } from './support/booking-saga.js';

let world: BookingWorld;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  world = await createBookingWorld('saga recovery');
});
afterAll(() => world?.drop());

describe('saga recovery', () => {
  it('two runners recovering at once drive each crashed saga exactly once', async () => {
    const schema = freshSchema();
    // Long enough for 30 sagas at once on two cores: a lease that lapses under load makes run() give the
    // saga up (correctly) and wait for recovery, which this test only starts later.
    const leaseMs = 1_000;
    const points = [
      'saga:before-step',
      'saga:after-step-effect',
      'saga:after-step-record',
      'saga:before-compensation',
      'saga:after-compensation-effect',
    ] as const;
    // Saga k crashes at point k % 5 of step k % 3 (the first time it gets there).
    const plan = new Map<string, { point: string; step: string }>();
    let next = 0;
    const faults: FaultHook = (site) => {
      if (!plan.has(site.id)) {
        const k = next++;
        plan.set(site.id, { point: points[k % points.length]!, step: stepNames[k % 3]! });
      }
      const target = plan.get(site.id)!;
      if (site.point === target.point && site.step === target.step) {
        target.point = 'done';
        throw new SimulatedCrash(site);
      }
    };
    // Long step timeouts: a step timed out on a busy machine would change the outcome this test expects.
    const definition = bookingSaga({ ...world, stepTimeoutMs: 10_000 });
    const dying = world.runner({ schema, id: 'dying', leaseMs, faults, sagas: [definition] });
    await dying.migrate();
    const count = 30;
    // One after another, so that saga k gets plan k whatever the machine's load (a crash returns at once).
    const results: PromiseSettledResult<unknown>[] = [];
    for (let k = 0; k < count; k++) {
      const input = { label: `r${k}`, ...(k % 2 ? { rejectAt: 'ticket' } : {}) };
      results.push(
        await dying.run(definition, input).then(
          (value) => ({ status: 'fulfilled' as const, value }),
          (reason: unknown) => ({ status: 'rejected' as const, reason }),
        ),
      );
    }
    // 22 of the 30 plans name a point the saga reaches (e.g. no compensation point in a saga that completes).
    const crashed = results.filter((r) => r.status === 'rejected' && isSimulatedCrash(r.reason)).length;
    expect(crashed).toBe(22);

    await untilLeasesLapsed(world, schema);
    const one = world.runner({ schema, id: 'one', leaseMs, sagas: [definition] });
    const two = world.runner({ schema, id: 'two', leaseMs, sagas: [definition] });
    const resumed: string[] = [];
    for (const r of [one, two]) r.on('saga:resumed', (e) => resumed.push(e.sagaId));
    let total = 0;
    for (;;) {
      const [a, b] = await Promise.all([one.recover({ batchSize: 4 }), two.recover({ batchSize: 4 })]);
      expect([...a.errors, ...b.errors]).toEqual([]);
      total += a.resumed + b.resumed;
      if (a.resumed + b.resumed === 0) break;
    }
    expect(total).toBe(resumed.length);
    expect(new Set(resumed).size).toBe(resumed.length); // nobody resumed a saga twice
    await expectEverySagaSettledOnce(world, schema, count);
  });

  it('keeps the lease of a long step alive by heartbeats, so nobody else claims it', async () => {
    const schema = freshSchema();
    const leaseMs = 300;
    const slow = saga<unknown>('slow')
      .step('wait', { run: () => sleep(4 * leaseMs).then(() => 'waited') })
      .build();
    const runner = world.runner({ schema, leaseMs, sagas: [slow] });
    const other = world.runner({ schema, id: 'other', leaseMs, sagas: [slow] });
    await runner.migrate();
    let finished = false;
    const running = runner.run(slow, {}).finally(() => {
      finished = true;
    });
    // Another runner tries to claim it all through the step, which lasts four leases, until the saga ended.
    let claimed = 0;
    while (!finished) {
      await sleep(leaseMs / 2);
      claimed += (await other.recover()).resumed;
    }
    expect(claimed).toBe(0);
    expect(await running).toMatchObject({ status: 'completed', result: { wait: 'waited' } });
  });

  it('fences a runner that lost its lease: its step is aborted and its record refused', async () => {
    const schema = freshSchema();
    const leaseMs = 1_000;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const signals: AbortSignal[] = [];
    let runs = 0;
    const definition = saga<unknown>('fenced')
      .step('slow', {
        run: async (ctx) => {
          runs++;
          signals.push(ctx.signal);
          if (runs === 1) await gate; // the first runner's attempt ignores its signal, like a stuck call
          return { by: runs };
        },
      })
      .build();
    const a = world.runner({ schema, id: 'a', leaseMs, sagas: [definition] });
    const b = world.runner({ schema, id: 'b', leaseMs, sagas: [definition] });
    await a.migrate();
    const lost: string[] = [];
    a.on('saga:lease-lost', (e) => lost.push(e.sagaId));
    const first = a.run(definition, {});
    await expect.poll(() => signals.length, { timeout: 10_000, message: "a's step never started" }).toBe(1);
    // Make a's lease look expired (as after a long pause of its process), and let b take the saga over.
    await world.logPool.query(`UPDATE ${schema}.saga SET lease_until = now() - interval '1 second'`);
    const { outcomes } = await b.recover();
    expect(outcomes).toMatchObject([{ status: 'completed', result: { slow: { by: 2 } } }]);
    // a's next heartbeat finds its token gone and aborts its step; its late result is never recorded.
    await expect
      .poll(() => signals[0]?.aborted, { timeout: 10_000, message: "a's step was never aborted" })
      .toBe(true);
    release();
    expect(await first).toEqual(outcomes[0]);
    expect(lost).toHaveLength(1);
    const { rows } = await world.logPool.query(`SELECT output FROM ${schema}.saga_step`);
    expect(rows).toEqual([{ output: { by: 2 } }]);
  });

  it('gives up on a saga that keeps killing its runners: compensates it (recovery-limit)', async () => {
    const schema = freshSchema();
    const leaseMs = 200;
    const faults: FaultHook = (site) => {
      if (site.point === 'saga:after-step-effect' && site.step === 'pay') throw new SimulatedCrash(site);
    };
    const maxClaims = 2;
    const runners = Array.from({ length: 4 }, (_, i) =>
      world.runner({ schema, id: `r${i}`, leaseMs, faults, maxClaims }),
    );
    await runners[0]!.migrate();
    await expect(runners[0]!.run(world.definition, { label: 'poison' })).rejects.toBeInstanceOf(
      SimulatedCrash,
    );
    for (let i = 1; i <= maxClaims; i++) {
      await untilLeasesLapsed(world, schema);
      const { errors } = await runners[i]!.recover();
      expect(errors).toHaveLength(1);
      expect(isSimulatedCrash(errors[0])).toBe(true);
    }
    await untilLeasesLapsed(world, schema);
    const { outcomes } = await runners[3]!.recover();
    expect(outcomes).toMatchObject([{ status: 'compensated', failedStep: 'pay', reason: 'recovery-limit' }]);
    const ledger = await world.ledger(outcomes[0]!.sagaId);
    expect(ledger.seat).toEqual({ action: 1, compensate: 1 });
    expect(ledger.pay).toEqual({ action: 1, compensate: 1 }); // applied once in spite of three runs
  });

  it('runs recovery as a background service that stop() waits for', async () => {
    const schema = freshSchema();
    const leaseMs = 200;
    const faults: FaultHook = (site) => {
      if (site.point === 'saga:after-step-record' && site.step === 'seat') throw new SimulatedCrash(site);
    };
    const dying = world.runner({ schema, id: 'dying', leaseMs, faults });
    await dying.migrate();
    const crashes = await Promise.allSettled(
      [1, 2, 3].map((k) => dying.run(world.definition, { label: `bg${k}` })),
    );
    expect(crashes.every((c) => c.status === 'rejected')).toBe(true);
    const healthy = world.runner({ schema, id: 'healthy', leaseMs });
    const completed: string[] = [];
    healthy.on('saga:completed', (e) => completed.push(e.sagaId));
    const service = healthy.startRecovery({ intervalMs: 50 });
    // The dying runner's leases run out, and the service's next pass takes the sagas over.
    await expect
      .poll(() => completed.length, {
        timeout: 10_000,
        message: 'the recovery service did not finish the sagas',
      })
      .toBe(3);
    await service.stop();
    expect(service.stopped).toBe(true);
    expect(completed).toHaveLength(3);
    expect(healthy.runningCount).toBe(0);
    expect(healthy.stuckCount).toBe(0);
  });
});
