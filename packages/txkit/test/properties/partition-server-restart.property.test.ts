import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { FaultSite } from '../../src/faults.js';
import {
  type FaultProxy,
  type PostgresCluster,
  startFaultProxy,
  startPostgresCluster,
  TWO_PHASE_FAULT_POINTS,
} from '../../src/testing/index.js';
import { BANK_DDL, transfersArbitrary } from './support/bank.js';
import { twoPhaseFaults } from './support/fault-arbitraries.js';
import { randomPartitions } from './support/partition-arbitraries.js';
import { type PartitionCase, runPartitionCase } from './support/partition-two-phase.js';
import { assertProperty, propertyRuns, propertyTimeout } from './support/runs.js';
import { createWorld, DATABASES, type DatabaseName, type World } from './support/world.js';

// Bank over 2PC with a participant's PostgreSQL server stopped in the middle of a transaction (at a protocol
// point: cleanly, or as a crash with no checkpoint) and started again a moment later, on top of the network
// partitions of partition-two-phase and sometimes a process crash. This file owns its three servers: the
// shared test cluster serves other files at the same time. Invariants as there: money conserved, all-or-nothing
// as reported, nothing twice, nothing prepared after a bounded time, every call bounded and typed.

const runs = propertyRuns(6);
let cluster: PostgresCluster;
let world: World;
let proxy: FaultProxy;
const tally = new Map<string, number>();

beforeAll(async () => {
  cluster = await startPostgresCluster({ names: DATABASES });
  world = await createWorld('property server restart 2pc', BANK_DDL, cluster);
  proxy = await startFaultProxy({
    upstreams: Object.fromEntries(DATABASES.map((name) => [name, world.dbs.on(name).connectionString])),
  });
}, 180_000);
afterAll(async () => {
  console.log(`[stats] 2PC bank with a server restarted: ${JSON.stringify(Object.fromEntries(tally))}`);
  await proxy?.close();
  await world?.drop();
  await cluster?.destroy();
}, 180_000);

/** Which server stops, where, how, and for how long. */
interface ServerRestart {
  point: (typeof TWO_PHASE_FAULT_POINTS)[number];
  participant: DatabaseName;
  server: DatabaseName;
  occurrence: number;
  mode: 'fast' | 'immediate';
  downMs: number;
}

const serverRestart: fc.Arbitrary<ServerRestart> = fc.record({
  point: fc.constantFrom(...TWO_PHASE_FAULT_POINTS),
  participant: fc.constantFrom(...DATABASES),
  server: fc.constantFrom(...DATABASES),
  occurrence: fc.integer({ min: 1, max: 2 }),
  mode: fc.constantFrom<ServerRestart['mode']>('fast', 'immediate'),
  downMs: fc.integer({ min: 0, max: 1_500 }),
});

async function runWithServerRestart(input: PartitionCase & { restart: ServerRestart }): Promise<void> {
  const { restart } = input;
  const instance = cluster.instance(restart.server);
  let seen = 0;
  let restarted: Promise<void> | undefined;
  const log: string[] = [];
  const hook = (site: FaultSite) => {
    if (site.point !== restart.point || (site.participant && site.participant !== restart.participant))
      return;
    seen += 1;
    if (seen !== restart.occurrence || restarted) return;
    log.push(`stopping ${restart.server} (${restart.mode}) at ${site.point} ${site.participant ?? ''}`);
    // Not awaited: the server goes down while the coordinator goes on, as a real one would.
    restarted = instance
      .stop({ mode: restart.mode })
      .then(() => new Promise<void>((resolve) => setTimeout(resolve, restart.downMs)))
      .then(async () => {
        await instance.start();
        log.push(`started ${restart.server} ${restart.downMs} ms after it stopped`);
      });
  };
  await runPartitionCase(world, proxy, input, tally, {
    hook,
    // The server is up again before recovery runs (recovery also copes with it down: it reports it unreachable).
    beforeRecovery: async () => {
      await restarted;
    },
    describe: () => log.join('; '),
  });
  tally.set(
    `server stopped ${restart.mode}`,
    (tally.get(`server stopped ${restart.mode}`) ?? 0) + (restarted ? 1 : 0),
  );
}

describe('bank over 2PC with a participant server stopped and started mid-transaction', () => {
  it(
    'conserves money, all-or-nothing as reported, nothing left, every call bounded and typed',
    async () => {
      await assertProperty(
        'bank 2PC server restart',
        fc.asyncProperty(
          fc.record({
            transfers: transfersArbitrary,
            partitions: fc.option(randomPartitions(DATABASES), { freq: 2 }).map((p) => p ?? []),
            crash: fc.option(
              twoPhaseFaults().map((faults) => ({ faults })),
              { freq: 4 },
            ),
            decisionInLogParticipant: fc.boolean(),
            restart: serverRestart,
          }),
          (input) => runWithServerRestart(input),
        ),
        runs,
      );
    },
    propertyTimeout(runs, 40_000),
  );
});
