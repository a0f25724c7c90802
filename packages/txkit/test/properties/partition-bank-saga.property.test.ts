import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../../src/testing/index.js';
import { BANK_DDL, transfersArbitrary } from './support/bank.js';
import { FAIL_AFTER_EFFECT, runSagaBank, sagaBankStats, TRANSFER_STEPS } from './support/bank-saga.js';
import { sagaFaults } from './support/fault-arbitraries.js';
import { partitionedSagas, sagaPartitions } from './support/partition-sagas.js';
import { assertProperty, propertyRuns, propertyTimeout } from './support/runs.js';
import { createWorld, DATABASES, type World } from './support/world.js';

// Bank over sagas through a network that fails: the runner reaches its log, and the steps their databases,
// through a fault proxy that cuts, blackholes (healing with or without the held bytes), slows or cuts
// mid-stream one participant or the log's database — at random moments and at saga points — sometimes with a
// process crash on top. After healing, a runner under a new id recovers. Invariants: money conserved, every
// transfer completed or fully compensated as run() answered and the log says, no step applied twice, no saga
// left, every run() within its documented bound and ending in an outcome or a documented error.

const runs = propertyRuns(8);
let world: World;
let proxy: FaultProxy;

beforeAll(async () => {
  world = await createWorld('property partitions bank saga', BANK_DDL);
  proxy = await startFaultProxy({
    upstreams: Object.fromEntries(DATABASES.map((name) => [name, world.dbs.on(name).connectionString])),
  });
});
afterAll(async () => {
  console.log(`[stats] saga bank through partitions: ${sagaBankStats}`);
  await proxy?.close();
  await world?.drop();
});

function bankSagaThroughPartitions() {
  return fc.asyncProperty(
    fc.record({
      transfers: transfersArbitrary,
      partitions: sagaPartitions(TRANSFER_STEPS),
      faults: fc.option(sagaFaults(TRANSFER_STEPS, FAIL_AFTER_EFFECT), { freq: 3 }).map((f) => f ?? []),
    }),
    (input) =>
      runSagaBank(
        world,
        input,
        'txkit',
        partitionedSagas(world, proxy, input.partitions, TRANSFER_STEPS.length),
      ),
  );
}

describe('bank over sagas through network partitions', () => {
  it(
    'conserves money, completes or compensates as answered, nothing left, every run bounded and typed',
    async () => {
      await assertProperty('bank saga partitions', bankSagaThroughPartitions(), runs);
    },
    propertyTimeout(runs, 40_000),
  );
});
