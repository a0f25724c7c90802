import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BookingWorld,
  createBookingWorld,
  expectEverySagaSettledOnce,
  freshSchema,
  untilLeasesLapsed,
} from './support/booking-fixture.js';
import { bookingSaga } from './support/booking-saga.js';

// A real process death: a child process runs a saga runner and is killed with SIGKILL in the middle of its
// sagas (right after a participant's write, before the runner could log it); the parent then recovers.

let world: BookingWorld;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

beforeAll(async () => {
  world = await createBookingWorld('saga process kill');
});
afterAll(() => world?.drop());

describe('saga runner killed with SIGKILL', () => {
  it('is recovered by another process: every saga ends, every effect applied once', async () => {
    const schema = freshSchema();
    // Short enough that recovery can claim soon after the kill, long enough that a loaded machine does not make
    // the child lose its leases (and answer its sagas in doubt, with fewer effects than the kill waits for): its
    // log round trips are bounded by a third of it.
    const leaseMs = 3_000;
    const count = 12;
    const urls = Object.fromEntries(world.dbs.databases.map((d) => [d.instance, d.connectionString]));
    const child: ChildProcess = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        here('./support/sql-text-hook.mjs'),
        here('./support/child-runner.ts'),
        JSON.stringify({ urls, schema, count, leaseMs, pauseAfterEffectMs: 150, freezeAtEffect: 14 }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const started = new Set<string>();
    let effects = 0;
    const killedAfterEffects = 14; // the child freezes at that effect (freezeAtEffect)
    const lines = createInterface({ input: child.stdout! });
    const exited = once(child, 'exit');
    for await (const line of lines) {
      const message = JSON.parse(line) as { started?: string; effect?: unknown; finished?: boolean };
      if (message.started) started.add(message.started);
      if (message.effect) effects++;
      if (message.finished) throw new Error('the child finished before it was killed');
      if (effects >= killedAfterEffects) {
        child.kill('SIGKILL');
        break;
      }
    }
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');
    expect(started.size).toBe(count);

    // The kill came right after an effect: at least one saga has an effect its log does not know about.
    const unlogged = await effectsWithoutRecord(schema, [...started]);
    expect(unlogged).toBeGreaterThan(0);
    const { rows: unfinished } = await world.logPool.query(
      `SELECT id FROM ${schema}.saga WHERE status IN ('running', 'compensating')`,
    );
    expect(unfinished.length).toBeGreaterThan(0);

    const definition = bookingSaga({ ...world, stepTimeoutMs: 10_000 });
    const runner = world.runner({ schema, id: 'parent', leaseMs, sagas: [definition] });
    await untilLeasesLapsed(world, schema);
    let resumed = 0;
    for (;;) {
      const pass = await runner.recover();
      expect(pass.errors).toEqual([]);
      resumed += pass.resumed;
      if (pass.resumed === 0) break;
    }
    expect(resumed).toBe(unfinished.length);
    await expectEverySagaSettledOnce(world, schema, count);
    // Every wait above is on an event of the child or the databases; the bound is for a child process that starts
    // (tsx compiling the runner) slowly on a loaded machine — 64 s once in CI with the two cores shared.
  }, 180_000);
});

/** Participant effects (action or compensation) with no matching record in the saga log. */
async function effectsWithoutRecord(schema: string, sagaIds: string[]): Promise<number> {
  const { rows: records } = await world.logPool.query<{ saga_id: string; step: string; kind: string }>(
    `SELECT saga_id, step, kind FROM ${schema}.saga_step WHERE status = 'done'`,
  );
  const logged = new Set(
    records.map((r) => `${r.saga_id}/${r.step}/${r.kind === 'action' ? 'action' : 'compensate'}`),
  );
  let missing = 0;
  for (const step of ['seat', 'pay', 'ticket'] as const) {
    const { rows } = await world
      .pool(step)
      .query<{ saga_id: string; op: string }>('SELECT saga_id, op FROM ledger WHERE saga_id = ANY($1)', [
        sagaIds,
      ]);
    for (const r of rows) if (!logged.has(`${r.saga_id}/${step}/${r.op}`)) missing++;
  }
  return missing;
}
