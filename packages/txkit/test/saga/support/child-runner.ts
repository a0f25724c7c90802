/**
 * A saga runner in its own process, for the kill -9 test: runs `count` bookings at once and prints one JSON
 * line per saga start and per participant effect, so the parent knows when to kill it.
 * Usage: node --import tsx --import ./sql-text-hook.mjs child-runner.ts '<json config>'
 */
import pg from 'pg';
import { SagaRunner } from '../../../src/index.js';
import { bookingSaga, instanceOf, type StepName } from './booking-saga.js';

interface ChildConfig {
  urls: Record<string, string>;
  schema: string;
  count: number;
  leaseMs: number;
  pauseAfterEffectMs: number;
  /**
   * At this participant effect (counting from 1) the process freezes for good, right after the effect committed
   * and before its step could return and be logged: whenever the parent kills it after that effect, the log is
   * missing at least that one.
   */
  freezeAtEffect?: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const pools = Object.fromEntries(
  Object.entries(config.urls).map(([name, url]) => [name, new pg.Pool({ connectionString: url, max: 10 })]),
);
const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
let effects = 0;
const definition = bookingSaga({
  pool: (step: StepName) => pools[instanceOf[step]]!,
  useBarrier: true,
  // Generous: the machine may be busy, and a timed-out step would be compensated, not completed.
  stepTimeoutMs: 10_000,
  brokenCompensations: new Set(),
  onEffect: (sagaId, step, op) => {
    print({ effect: { sagaId, step, op } }); // a pipe: written synchronously, before the freeze below
    if (++effects === config.freezeAtEffect) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  },
});
const runner = new SagaRunner({
  pool: pools.a!,
  id: 'child',
  sagas: [definition],
  leaseMs: config.leaseMs,
  schema: config.schema,
});
runner.on('saga:started', (e) => print({ started: e.sagaId }));
runner.on('error', () => {});
await runner.migrate();
print({ ready: true });
await Promise.allSettled(
  Array.from({ length: config.count }, (_, k) =>
    runner.run(definition, {
      label: `child-${k}`,
      pauseAfterEffectMs: config.pauseAfterEffectMs,
      ...(k % 2 ? { rejectAt: 'ticket' } : {}),
    }),
  ),
);
print({ finished: true });
