import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SagaOutcome, type SagaRunnerEvents, StepRejectedError, saga } from '../../src/index.js';
import {
  type BookingWorld,
  COUNTING_LEASE_MS,
  createBookingWorld,
  freshSchema,
} from './support/booking-fixture.js';

let world: BookingWorld;

beforeAll(async () => {
  world = await createBookingWorld('saga runner');
});
afterAll(() => world?.drop());

async function newRunner(options: Parameters<BookingWorld['runner']>[0] = {}) {
  const runner = world.runner({ schema: freshSchema(), ...options });
  await runner.migrate();
  return runner;
}

function record(runner: ReturnType<BookingWorld['runner']>) {
  const events: string[] = [];
  const names: (keyof SagaRunnerEvents)[] = [
    'saga:started',
    'step:completed',
    'step:retrying',
    'step:failed',
    'saga:compensating',
    'compensation:completed',
    'saga:completed',
    'saga:compensated',
    'saga:failed',
  ];
  for (const name of names) {
    runner.on(name, ((e: { step?: string }) => events.push(e.step ? `${name} ${e.step}` : name)) as never);
  }
  return events;
}

describe('SagaRunner', () => {
  it('runs every step once, in order, and returns the typed result', async () => {
    const runner = await newRunner({ leaseMs: COUNTING_LEASE_MS });
    const events = record(runner);
    const before = runner.logStatementCount;
    const outcome = await runner.run(world.definition, { label: 'happy' });
    expect(outcome.status).toBe('completed');
    if (outcome.status !== 'completed') return;
    expect(outcome.result.pay).toEqual({ paid: 42 });
    expect(outcome.result.seat.seat).toMatch(/^A-/);
    expect(await world.ledger(outcome.sagaId)).toEqual({
      seat: { action: 1, compensate: 0 },
      pay: { action: 1, compensate: 0 },
      ticket: { action: 1, compensate: 0 },
    });
    // One log write to start, one per step; the last step's record completes the saga.
    expect(runner.logStatementCount - before).toBe(4);
    expect(events).toEqual([
      'saga:started',
      'step:completed seat',
      'step:completed pay',
      'step:completed ticket',
      'saga:completed',
    ]);
    expect(await runner.outcome(outcome.sagaId)).toEqual(outcome);
    expect(runner.runningCount).toBe(0);
  });

  it('compensates in reverse order on a business failure, without retrying it', async () => {
    const runner = await newRunner();
    const events = record(runner);
    const outcome = await runner.run(world.definition, { label: 'declined', rejectAt: 'ticket' });
    expect(outcome).toMatchObject({ status: 'compensated', failedStep: 'ticket', reason: 'ticket-rejected' });
    expect(events).toEqual([
      'saga:started',
      'step:completed seat',
      'step:completed pay',
      'step:failed ticket',
      'saga:compensating',
      'compensation:completed ticket',
      'compensation:completed pay',
      'compensation:completed seat',
      'saga:compensated',
    ]);
    expect(await world.ledger(outcome.sagaId)).toEqual({
      seat: { action: 1, compensate: 1 },
      pay: { action: 1, compensate: 1 },
      ticket: { action: 0, compensate: 0 },
    });
    expect(await runner.outcome(outcome.sagaId)).toEqual(outcome);
  });

  it('tells any runner on the same log what happened to a saga, record by record, by id or by key', async () => {
    const schema = freshSchema();
    const driver = await newRunner({ schema });
    // Another runner (another process, say) that drove none of these sagas reads the same log.
    const reader = world.runner({ schema, id: 'reader' });
    const completed = await driver.run(world.definition, { label: 'history ok' }, { key: 'order-1' });
    const compensated = await driver.run(world.definition, { label: 'history no', rejectAt: 'ticket' });

    const ok = await reader.history({ name: world.definition.name, key: 'order-1' });
    expect(ok).toMatchObject({
      sagaId: completed.sagaId,
      key: 'order-1',
      status: 'completed',
      owner: 'test',
    });
    expect(ok?.records.map((r) => `${r.kind} ${r.step} ${r.status}`)).toEqual([
      'action seat done',
      'action pay done',
      'action ticket done',
    ]);
    expect(ok?.finishedAt).toBeInstanceOf(Date);

    const undone = await reader.history(compensated.sagaId);
    expect(undone).toMatchObject({ status: 'compensated', failedStep: 'ticket', reason: 'ticket-rejected' });
    expect(undone?.records.map((r) => `${r.kind} ${r.step} ${r.status}`)).toEqual([
      'action seat done',
      'action pay done',
      'action ticket failed',
      // A failed action may have taken effect before it failed: it is compensated too (here a barrier no-op).
      'compensation ticket done',
      'compensation pay done',
      'compensation seat done',
    ]);
    const times = undone?.records.map((r) => r.at.getTime()) ?? [];
    expect(times).toEqual([...times].sort((a, b) => a - b));

    expect(await reader.history('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    expect(await reader.history({ name: world.definition.name, key: 'no-such-key' })).toBeUndefined();
  });

  it('compensates a failed step whose action did take effect before it failed', async () => {
    const runner = await newRunner();
    const outcome = await runner.run(world.definition, { label: 'late', rejectAfterEffectAt: 'pay' });
    expect(outcome).toMatchObject({ status: 'compensated', failedStep: 'pay', reason: 'pay-rejected-late' });
    expect(await world.ledger(outcome.sagaId)).toEqual({
      seat: { action: 1, compensate: 1 },
      pay: { action: 1, compensate: 1 },
      ticket: { action: 0, compensate: 0 },
    });
  });

  it('retries retryable errors with backoff and completes', async () => {
    const runner = await newRunner();
    const events = record(runner);
    const outcome = await runner.run(world.definition, { label: 'flaky', transientFailures: { pay: 2 } });
    expect(outcome.status).toBe('completed');
    expect(events.filter((e) => e === 'step:retrying pay')).toHaveLength(2);
    expect((await world.ledger(outcome.sagaId)).pay).toEqual({ action: 1, compensate: 0 });
    const { rows } = await world.logPool.query(
      `SELECT attempt FROM ${runner.schema}.saga_step WHERE saga_id = $1 AND step = 'pay'`,
      [outcome.sagaId],
    );
    expect(rows[0].attempt).toBe(3);
  });

  it('retries a step that found no pooled connection in time (pg-pool connectionTimeoutMillis)', async () => {
    const pool = new pg.Pool({
      connectionString: world.dbs.on('b').connectionString,
      max: 1,
      connectionTimeoutMillis: 100,
    });
    // The pool's only connection, busy until the first attempt has timed out waiting for it.
    let busy: pg.PoolClient | undefined = await pool.connect();
    const definition = saga<{ n: number }>('pool-wait')
      .step('read', {
        run: async (ctx) => {
          try {
            return (await pool.query<{ n: number }>('SELECT $1::int AS n', [ctx.input.n])).rows[0]!.n;
          } finally {
            busy?.release();
            busy = undefined;
          }
        },
      })
      .build();
    try {
      const runner = await newRunner({ sagas: [definition] });
      const events = record(runner);
      const outcome = await runner.run(definition, { n: 7 });
      expect(outcome).toMatchObject({ status: 'completed', result: { read: 7 } });
      expect(events.filter((e) => e === 'step:retrying read')).toHaveLength(1);
    } finally {
      busy?.release();
      await pool.end();
    }
  });

  it('compensates when retries are exhausted', async () => {
    const runner = await newRunner();
    const outcome = await runner.run(world.definition, { label: 'down', transientFailures: { pay: 3 } });
    expect(outcome).toMatchObject({ status: 'compensated', failedStep: 'pay', reason: 'retries-exhausted' });
    expect(outcome.status === 'compensated' && outcome.error.name).toBe('RetryableError');
    expect(await world.ledger(outcome.sagaId)).toEqual({
      seat: { action: 1, compensate: 1 },
      pay: { action: 0, compensate: 0 },
      ticket: { action: 0, compensate: 0 },
    });
  });

  it('times a hanging step out through its signal and retries it', async () => {
    const runner = await newRunner();
    const retries: { error: { name: string } }[] = [];
    runner.on('step:retrying', (e) => retries.push(e));
    const started = Date.now();
    const outcome = await runner.run(world.definition, { label: 'slow', hangs: { ticket: 1 } });
    expect(outcome.status).toBe('completed');
    expect(retries.map((r) => r.error.name)).toEqual(['StepTimeoutError']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    // A step that hangs on every attempt is a retryable failure exhausted: compensated.
    const stuck = await runner.run(world.definition, { label: 'hung', hangs: { ticket: 9 } });
    expect(stuck).toMatchObject({ status: 'compensated', failedStep: 'ticket', reason: 'retries-exhausted' });
  });

  it('retries a compensation, and ends failed — listed, with an event — when it gives up', async () => {
    const runner = await newRunner();
    const failed: unknown[] = [];
    runner.on('saga:failed', (e) => failed.push(e));
    const retried = await runner.run(world.definition, {
      label: 'comp-flaky',
      rejectAt: 'ticket',
      compensationFailures: { pay: 2 },
    });
    expect(retried.status).toBe('compensated');
    expect((await world.ledger(retried.sagaId)).pay).toEqual({ action: 1, compensate: 1 });

    world.brokenCompensations.add('pay');
    let outcome: SagaOutcome;
    try {
      outcome = await runner.run(world.definition, { label: 'comp-broken', rejectAt: 'ticket' });
    } finally {
      world.brokenCompensations.delete('pay');
    }
    expect(outcome).toMatchObject({
      status: 'failed',
      failedStep: 'ticket',
      reason: 'ticket-rejected',
      compensation: { step: 'pay', error: { message: 'pay compensation is broken' } },
    });
    expect(failed).toHaveLength(1);
    // The seat was never compensated: the saga stops at the compensation that gave up.
    expect(await world.ledger(outcome.sagaId)).toEqual({
      seat: { action: 1, compensate: 0 },
      pay: { action: 1, compensate: 0 },
      ticket: { action: 0, compensate: 0 },
    });
    const stuck = await runner.stuck();
    expect(stuck).toHaveLength(1);
    expect(stuck[0]).toMatchObject({
      sagaId: outcome.sagaId,
      failedStep: 'ticket',
      compensation: { step: 'pay', error: { message: 'pay compensation is broken' } },
    });
    expect(runner.stuckCount).toBe(1);
    expect(await runner.outcome(outcome.sagaId)).toEqual(outcome);

    // Recovery does not touch a failed saga; an operator retries it once the cause is fixed.
    expect((await runner.recover()).resumed).toBe(0);
    const fixed = await runner.retryFailed(outcome.sagaId);
    expect(fixed).toMatchObject({ status: 'compensated', failedStep: 'ticket' });
    expect(await world.ledger(outcome.sagaId)).toEqual({
      seat: { action: 1, compensate: 1 },
      pay: { action: 1, compensate: 1 },
      ticket: { action: 0, compensate: 0 },
    });
    expect(runner.stuckCount).toBe(0);
    await expect(runner.retryFailed(outcome.sagaId)).rejects.toMatchObject({ code: 'SAGA_NOT_FOUND' });
  });

  it('returns the first outcome for a repeated key without running anything again', async () => {
    const runner = await newRunner({ leaseMs: COUNTING_LEASE_MS });
    const first = await runner.run(world.definition, { label: 'k1' }, { key: 'order-1' });
    const before = runner.logStatementCount;
    const again = await runner.run(world.definition, { label: 'k1', rejectAt: 'seat' }, { key: 'order-1' });
    expect(again).toEqual(first);
    expect(runner.logStatementCount - before).toBe(2); // the refused insert and the lookup
    expect(await world.ledger(first.sagaId)).toMatchObject({ seat: { action: 1 }, ticket: { action: 1 } });
    const failedFirst = await runner.run(
      world.definition,
      { label: 'k2', rejectAt: 'pay' },
      { key: 'order-2' },
    );
    expect(await runner.run(world.definition, { label: 'k2' }, { key: 'order-2' })).toEqual(failedFirst);
  });

  it('runs a key once when it arrives concurrently, at one runner or at two', async () => {
    const a = await newRunner();
    const b = world.runner({ schema: a.schema, id: 'other' });
    const started: string[] = [];
    for (const r of [a, b]) r.on('saga:started', (e) => started.push(e.sagaId));
    const input = { label: 'concurrent', hangs: { pay: 1 } }; // the first run takes a while (one timeout)
    const outcomes = await Promise.all([
      a.run(world.definition, input, { key: 'same' }),
      a.run(world.definition, input, { key: 'same' }),
      b.run(world.definition, input, { key: 'same' }),
      b.run(world.definition, input, { key: 'same' }),
    ]);
    expect(started).toHaveLength(1);
    for (const o of outcomes) expect(o).toEqual(outcomes[0]);
    expect(outcomes[0]?.status).toBe('completed');
    expect((await world.ledger(started[0]!)).pay).toEqual({ action: 1, compensate: 0 });
  });

  it('gives up waiting for an in-flight key after waitTimeoutMs', async () => {
    // A saga whose step runs until the test lets it end.
    let finish: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const held = saga<unknown>('held')
      .step('wait', { run: () => gate.then(() => 'done') })
      .build();
    const runner = await newRunner({ sagas: [world.definition, held] });
    const other = world.runner({ schema: runner.schema, id: 'elsewhere', sagas: [held] });
    const startedKeys: (string | null)[] = [];
    runner.on('saga:started', (e) => startedKeys.push(e.key));
    const first = runner.run(held, {}, { key: 'slow' });
    await expect.poll(() => startedKeys, { timeout: 10_000 }).toEqual(['slow']);
    // The same runner awaits its own run in flight, however long it takes; another runner gives up after its limit.
    let sameSettled = false;
    const same = runner.run(held, {}, { key: 'slow', waitTimeoutMs: 50 }).finally(() => {
      sameSettled = true;
    });
    await expect(other.run(held, {}, { key: 'slow', waitTimeoutMs: 50 })).rejects.toMatchObject({
      code: 'IN_DOUBT',
    });
    expect(sameSettled).toBe(false);
    finish();
    await expect(same).resolves.toMatchObject({ status: 'completed', result: { wait: 'done' } });
    expect(await first).toEqual(await same);
  });

  it('runs local steps in the log transaction, their record folded in', async () => {
    const schema = freshSchema();
    const definition = saga<{ fail: boolean }>('local')
      .localStep('note', {
        run: async (ctx) => {
          await ctx.client.query(`INSERT INTO local_notes (saga_id, op) VALUES ($1, 'action')`, [ctx.sagaId]);
          return { noted: true };
        },
        compensate: async (ctx) => {
          await ctx.client.query(`INSERT INTO local_notes (saga_id, op) VALUES ($1, 'compensate')`, [
            ctx.sagaId,
          ]);
        },
      })
      .localStep('check', {
        run: async (ctx) => {
          await ctx.client.query(`INSERT INTO local_notes (saga_id, op) VALUES ($1, 'check')`, [ctx.sagaId]);
          if (ctx.input.fail) throw new Error('check failed');
        },
        compensate: async () => {
          throw new Error('must not run: the failed local step rolled back');
        },
      })
      .build();
    await world.logPool.query('CREATE TABLE IF NOT EXISTS local_notes (saga_id uuid, op text)');
    const runner = world.runner({ schema, sagas: [definition], leaseMs: COUNTING_LEASE_MS });
    await runner.migrate();
    const before = runner.logStatementCount;
    const ok = await runner.run(definition, { fail: false });
    expect(ok).toMatchObject({ status: 'completed', result: { note: { noted: true }, check: null } });
    // The saga's insert and the first record in one statement, the second record completes it.
    expect(runner.logStatementCount - before).toBe(2);
    const notes = async (id: string) =>
      (
        await world.logPool.query<{ op: string }>(
          'SELECT op FROM local_notes WHERE saga_id = $1 ORDER BY op',
          [id],
        )
      ).rows.map((r) => r.op);
    expect(await notes(ok.sagaId)).toEqual(['action', 'check']);
    const bad = await runner.run(definition, { fail: true });
    expect(bad).toMatchObject({ status: 'compensated', failedStep: 'check', reason: 'step-error' });
    expect(await notes(bad.sagaId)).toEqual(['action', 'compensate']);
  });

  it('folds the saga insert into a local first step: one commit less, and a failed first step logs one row', async () => {
    await world.logPool.query('CREATE TABLE IF NOT EXISTS folded_seats (id int PRIMARY KEY, saga_id uuid)');
    const definition = saga<{ seat: number }>('folded')
      .localStep('seat', {
        run: async (ctx) => {
          const { rowCount } = await ctx.client.query(
            'INSERT INTO folded_seats VALUES ($1, $2) ON CONFLICT DO NOTHING',
            [ctx.input.seat, ctx.sagaId],
          );
          if (rowCount === 0) throw new StepRejectedError('seat-taken');
        },
        compensate: async (ctx) => {
          await ctx.client.query('DELETE FROM folded_seats WHERE id = $1 AND saga_id = $2', [
            ctx.input.seat,
            ctx.sagaId,
          ]);
        },
      })
      .step('pay', { run: () => 1 })
      .build();
    const runner = world.runner({ schema: freshSchema(), sagas: [definition], leaseMs: COUNTING_LEASE_MS });
    await runner.migrate();
    const started: string[] = [];
    runner.on('saga:started', (e) => started.push(e.sagaId));
    let before = runner.logStatementCount;
    const first = await runner.run(definition, { seat: 1 }, { key: 'f1' });
    expect(first.status).toBe('completed');
    // insert + seat record in one statement inside the seat transaction, then the pay record completes it
    expect(runner.logStatementCount - before).toBe(2);
    before = runner.logStatementCount;
    const taken = await runner.run(definition, { seat: 1 }, { key: 'f2' });
    expect(taken).toMatchObject({ status: 'compensated', failedStep: 'seat', reason: 'seat-taken' });
    // nothing was written with the failed seat step; one insert records the outcome
    expect(runner.logStatementCount - before).toBe(1);
    expect(await runner.run(definition, { seat: 2 }, { key: 'f2' })).toEqual(taken);
    expect(started).toEqual([first.sagaId, taken.sagaId]);
    // Same key at once: the second insert waits for the first transaction, then finds the key taken.
    const racing = await Promise.all([1, 2, 3].map(() => runner.run(definition, { seat: 3 }, { key: 'f3' })));
    for (const o of racing) expect(o).toEqual(racing[0]);
    expect(racing[0]?.status).toBe('completed');
    expect(started).toHaveLength(3);
  });

  it('prepares its hot log statements once per connection, unless told not to', async () => {
    const twoSteps = saga<{ n: number }>('prepared-check')
      .step('one', { run: (ctx) => ctx.input.n + 1 })
      .step('two', { run: (ctx) => ctx.outputs.one * 2 })
      .build();
    const preparedOn = async (preparedStatements: boolean) => {
      // One connection, so that the session asked afterwards is the one the runner used.
      const pool = new pg.Pool({ connectionString: world.dbs.on('a').connectionString, max: 1 });
      try {
        const runner = world.runner({ pool, sagas: [twoSteps], schema: freshSchema(), preparedStatements });
        await runner.migrate();
        for (let n = 0; n < 3; n++) {
          const outcome = await runner.run(twoSteps, { n });
          expect(outcome).toMatchObject({ status: 'completed', result: { one: n + 1, two: (n + 1) * 2 } });
        }
        const { rows } = await pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'txkit\\_%'",
        );
        return rows[0]?.n;
      } finally {
        await pool.end();
      }
    };
    // The saga insert, the step record and the completing record: three texts, each prepared once.
    expect(await preparedOn(true)).toBe(3);
    expect(await preparedOn(false)).toBe(0);
  });

  it('refuses a saga it was not given, and reports a throwing listener as an error event', async () => {
    const runner = await newRunner();
    const other = saga<unknown>('unknown')
      .step('a', { run: () => 1 })
      .build();
    await expect(runner.run(other, {})).rejects.toMatchObject({ code: 'CONFIGURATION' });
    const errors: unknown[] = [];
    runner.on('error', (e) => errors.push(e));
    runner.on('step:completed', () => {
      throw new Error('listener bug');
    });
    expect((await runner.run(world.definition, { label: 'listener' })).status).toBe('completed');
    expect(errors).toHaveLength(3);
  });

  it('deletes finished sagas after the retention, keeping failed ones', async () => {
    const runner = await newRunner();
    const schema = runner.schema;
    const done = await runner.run(world.definition, { label: 'old' });
    const comp = await runner.run(world.definition, { label: 'old', rejectAt: 'pay' });
    world.brokenCompensations.add('seat');
    const failed = await runner.run(world.definition, { label: 'old', rejectAt: 'pay' });
    world.brokenCompensations.delete('seat');
    expect(failed.status).toBe('failed');
    const recent = await runner.run(world.definition, { label: 'new' });
    await world.logPool.query(
      `UPDATE ${schema}.saga SET finished_at = now() - interval '8 days', updated_at = now() - interval '8 days'
       WHERE id = ANY($1)`,
      [[done.sagaId, comp.sagaId, failed.sagaId]],
    );
    expect(await runner.cleanup({ olderThanMs: 7 * 24 * 3600_000 })).toBe(2);
    const { rows } = await world.logPool.query(`SELECT id FROM ${schema}.saga ORDER BY created_at`);
    expect(rows.map((r) => r.id)).toEqual([failed.sagaId, recent.sagaId]);
    const steps = await world.logPool.query(
      `SELECT count(*)::int AS n FROM ${schema}.saga_step WHERE saga_id = $1`,
      [done.sagaId],
    );
    expect(steps.rows[0].n).toBe(0);
  });
});
