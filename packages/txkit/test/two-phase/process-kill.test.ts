import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';
import { type BundledFixture, bundleFixture } from '../support/bundle-fixture.js';
import {
  coordinatorOptions,
  copiesOf,
  createBookingTables,
  expectSettled,
  type LogMode,
  PARTICIPANTS,
  preparedLeft,
  recoverUntilClean,
  startCoordinator,
} from './support.js';

/**
 * Real process death: a child process runs a coordinator, the test kills it with SIGKILL at a fault point (no
 * finally blocks, no socket shutdown by the program: the kernel closes its connections), then recovers from
 * this process and checks the three databases.
 */
describe('2PC with a coordinator process killed by SIGKILL', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;
  let fixture: BundledFixture;

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, '2pc process kill');
    await createBookingTables(dbs);
    // The child runs the library's TypeScript source, bundled once (with the .sql migration as text).
    fixture = await bundleFixture(new URL('./fixtures/doomed-coordinator.ts', import.meta.url));
  });
  afterAll(async () => {
    await dbs.drop();
    await fixture?.remove();
  });

  /** Starts the child and resolves once it prints that it reached its fault point. */
  function runUntil(config: object): Promise<ChildProcess> {
    const child = spawn(process.execPath, [fixture.file, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('at ')) resolve(child);
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        err += chunk.toString();
      });
      child.on('exit', (code) =>
        reject(new Error(`child exited (${code}) before its fault point: ${out} ${err}`)),
      );
    });
  }

  async function kill(child: ChildProcess): Promise<void> {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  const cases: { point: string; participant?: string; copies: 0 | 3; mode: LogMode }[] = [
    { point: '2pc:after-prepare', participant: 'tickets', copies: 0, mode: 'separate' },
    { point: '2pc:before-decision', copies: 0, mode: 'in-participant' },
    { point: '2pc:after-decision', copies: 3, mode: 'separate' },
    { point: '2pc:after-decision', copies: 3, mode: 'in-participant' },
    { point: '2pc:before-commit', participant: 'tickets', copies: 3, mode: 'in-participant' },
  ];

  it.each(cases)('killed at $point $participant ($mode): recovery gives $copies copies', async (c) => {
    const id = `doomed-${c.mode}`;
    const key = `kill-${c.mode}-${c.point}-${c.participant ?? ''}`;
    const urls = {
      seats: dbs.on(PARTICIPANTS.seats).connectionString,
      payments: dbs.on(PARTICIPANTS.payments).connectionString,
      tickets: dbs.on(PARTICIPANTS.tickets).connectionString,
    };
    const child = await runUntil({
      id,
      key,
      point: c.point,
      participant: c.participant,
      urls,
      separateLog: c.mode === 'separate',
    });
    if (c.point === '2pc:before-commit') {
      // The other branches commit in parallel; kill once they have, so the kill lands "after some commits".
      await expect.poll(async () => (await preparedLeft(dbs)).length, { timeout: 5_000 }).toBe(1);
    }
    await kill(child);
    const left = await preparedLeft(dbs);
    expect(left.length).toBeGreaterThan(0);
    if (c.copies === 0) expect(await copiesOf(dbs, key)).toBe(0);

    const recoverer = await startCoordinator(coordinatorOptions(dbs, c.mode, { id }));
    const reports = await recoverUntilClean(recoverer, dbs);
    const finished = reports.flatMap((r) => (c.copies === 3 ? r.committed : r.aborted));
    // A PREPARE the child had already sent may land after the kill: recovery finishes it too.
    expect(finished).toEqual(expect.arrayContaining(left));
    await expectSettled(dbs, key, c.copies);
  });
});
