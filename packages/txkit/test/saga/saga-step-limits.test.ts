import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { type LocalStepContext, SagaRunner, type StepOutputs, saga } from '../../src/index.js';
import { type BookingWorld, createBookingWorld, freshSchema } from './support/booking-fixture.js';

// The runner's lockTimeoutMs / statementTimeoutMs bound the transactions it begins for local and guarded steps:
// set with SET LOCAL in BEGIN's round trip, so a step stuck behind another session's lock fails its attempt
// (55P03, retried) instead of waiting as long as the lock is held.

let world: BookingWorld;

beforeAll(async () => {
  world = await createBookingWorld('saga step limits');
  for (const step of ['reserve', 'pay'] as const) {
    const pool = step === 'reserve' ? world.logPool : world.pool('pay');
    await pool.query('CREATE TABLE IF NOT EXISTS counters (id int PRIMARY KEY, n int NOT NULL)');
    await pool.query('INSERT INTO counters VALUES (1, 0) ON CONFLICT DO NOTHING');
  }
});
afterAll(() => world?.drop());

type Ctx = LocalStepContext<unknown, StepOutputs>;

async function bump(ctx: Ctx): Promise<{ lockTimeout: string; statementTimeout: string }> {
  const { rows } = await ctx.client.query<{ lock_timeout: string; statement_timeout: string }>(
    `SELECT current_setting('lock_timeout') AS lock_timeout, current_setting('statement_timeout') AS statement_timeout`,
  );
  await ctx.client.query('UPDATE counters SET n = n + 1 WHERE id = 1');
  return { lockTimeout: rows[0]!.lock_timeout, statementTimeout: rows[0]!.statement_timeout };
}

const quickRetry = { maxAttempts: 4, initialDelayMs: 20, maxDelayMs: 20 };

describe('step transaction limits', () => {
  for (const kind of ['local', 'guarded'] as const) {
    it(`a ${kind} step waiting on a held lock fails its attempt at lockTimeoutMs and succeeds on a retry`, async () => {
      const pool = kind === 'local' ? world.logPool : world.pool('pay');
      const definition =
        kind === 'local'
          ? saga(`limits-${kind}`).localStep('bump', { run: bump, retry: quickRetry }).build()
          : saga(`limits-${kind}`).guardedStep('bump', { pool, run: bump, retry: quickRetry }).build();
      const runner = world.runner({
        sagas: [definition],
        schema: freshSchema(),
        id: `limits-${kind}`,
        lockTimeoutMs: 150,
        statementTimeoutMs: 5_000,
      });
      await runner.migrate();
      // Another session holds the row until the step's first attempt gave up on it.
      const holder = await pool.connect();
      await holder.query('BEGIN');
      await holder.query('UPDATE counters SET n = n WHERE id = 1');
      const retried = new Promise<void>((resolve) => runner.once('step:retrying', () => resolve()));
      const running = runner.run(definition, {});
      await retried; // bounded by the test's timeout: without the limit the attempt would wait for the holder
      await holder.query('COMMIT');
      holder.release();
      const outcome = await running;
      expect(outcome).toMatchObject({
        status: 'completed',
        result: { bump: { lockTimeout: '150ms', statementTimeout: '5s' } },
      });
      // SET LOCAL ended with the step's transaction: the pooled connection is back to the server's settings.
      const { rows } = await pool.query(`SELECT current_setting('lock_timeout') AS lock_timeout`);
      expect(rows[0].lock_timeout).toBe('0');
    }, 30_000);
  }

  it('a guarded step that outlives its timeout has its transaction abandoned: rolled back, its row lock freed', async () => {
    const pool = world.pool('pay');
    await pool.query('CREATE TABLE IF NOT EXISTS hung_effects (saga_id text NOT NULL)');
    // The step writes, then waits on something that never comes and ignores its signal: the attempt is given up
    // on at timeoutMs while its transaction (effect and barrier row) is still open.
    let unblock!: () => void;
    const blocked = new Promise<void>((resolve) => (unblock = resolve));
    const definition = saga('limits-hung')
      .guardedStep('hang', {
        pool,
        timeoutMs: 300,
        retry: { maxAttempts: 1 },
        run: async (ctx: Ctx) => {
          await ctx.client.query('INSERT INTO hung_effects VALUES ($1)', [ctx.sagaId]);
          await blocked;
          await ctx.client.query('INSERT INTO hung_effects VALUES ($1)', [ctx.sagaId]);
        },
        compensate: async (ctx: Ctx) => {
          await ctx.client.query('DELETE FROM hung_effects WHERE saga_id = $1', [ctx.sagaId]);
        },
      })
      .build();
    const runner = world.runner({ sagas: [definition], schema: freshSchema(), id: 'limits-hung' });
    await runner.migrate();
    try {
      // Were the transaction left open, the compensation's barrier insert would wait on its row for good.
      const outcome = await runner.run(definition, {});
      expect(outcome).toMatchObject({
        status: 'compensated',
        failedStep: 'hang',
        reason: 'retries-exhausted',
      });
      const { rows } = await pool.query('SELECT count(*)::int AS n FROM hung_effects WHERE saga_id = $1', [
        outcome.sagaId,
      ]);
      expect(rows[0].n).toBe(0);
      const idleInTransaction = async () =>
        (
          await pool.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
          )
        ).rows[0].n;
      await expect.poll(idleInTransaction, { timeout: 10_000, interval: 50 }).toBe(0);
    } finally {
      unblock(); // the abandoned attempt goes on: its next query fails on the closed connection, unreported
    }
  }, 30_000);

  it('refuses a limit that is not a positive integer of milliseconds when the runner is made', () => {
    expect(() => new SagaRunner({ pool: world.logPool, id: 'bad', sagas: [], lockTimeoutMs: 1.5 })).toThrow(
      ConfigurationError,
    );
  });
});
