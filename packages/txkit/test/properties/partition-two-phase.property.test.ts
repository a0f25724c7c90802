import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../../src/testing/index.js';
import { BANK_DDL, transfersArbitrary } from './support/bank.js';
import { twoPhaseFaults } from './support/fault-arbitraries.js';
import { randomPartitions } from './support/partition-arbitraries.js';
import { runPartitionCase } from './support/partition-two-phase.js';
import { assertProperty, propertyRuns, propertyTimeout } from './support/runs.js';
import { createWorld, DATABASES, type World } from './support/world.js';

// Bank over 2PC through a network that fails: every connection of the coordinator goes through a fault proxy
// that cuts, blackholes (healing with or without the held bytes), slows or cuts mid-stream one participant —
// or the log database — at random moments of the run, sometimes with a process crash on top. After healing, a
// restarted coordinator (new id) recovers. Invariants: money conserved, every transfer all-or-nothing and as
// its call reported, nothing applied twice, nothing prepared or stuck after a bounded time, every call ended
// within its documented bound, and every failure one of the documented errors (never a raw connection error).

const runs = propertyRuns(10);
let world: World;
let proxy: FaultProxy;

beforeAll(async () => {
  world = await createWorld('property partitions 2pc', BANK_DDL);
  proxy = await startFaultProxy({
    upstreams: Object.fromEntries(DATABASES.map((name) => [name, world.dbs.on(name).connectionString])),
  });
});
afterAll(async () => {
  console.log(`[stats] 2PC bank through partitions: ${JSON.stringify(Object.fromEntries(tally))}`);
  await proxy?.close();
  await world?.drop();
});

/** How the calls of all runs ended (status, and error class or code), printed after the suite. */
const tally = new Map<string, number>();

const partitions = randomPartitions(DATABASES);

describe('bank over 2PC through network partitions', () => {
  it(
    'conserves money, all-or-nothing as reported, nothing left, every call bounded and typed',
    async () => {
      await assertProperty(
        'bank 2PC partitions',
        fc.asyncProperty(
          fc.record({
            transfers: transfersArbitrary,
            partitions,
            crash: fc.option(
              twoPhaseFaults().map((faults) => ({ faults })),
              { freq: 3 },
            ),
            decisionInLogParticipant: fc.boolean(),
          }),
          (input) => runPartitionCase(world, proxy, input, tally),
        ),
        runs,
      );
    },
    propertyTimeout(runs, 30_000),
  );
});
