import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabases, type TestDatabases, testCluster } from '../../src/testing/index.js';
import { type BundledFixture, bundleFixture } from '../support/bundle-fixture.js';
import {
  coordinatorOptions,
  copiesOf,
  createBookingTables,
  type LogMode,
  PARTICIPANTS,
  preparedLeft,
  recoverUntilClean,
  startCoordinator,
} from './support.js';

/** The dead coordinator's lease, and its prepare timeout (set in the fixture). */
const LEASE_MS = 1_500;
const PREPARE_TIMEOUT_MS = 1_000;
/** Takeover must be done within lease + prepare timeout; this much more is left for a loaded machine. */
const MARGIN_MS = 10_000;

/**
 * Real process death, as deployments see it: a child process runs a coordinator under load (its recovery
 * service keeping its lease), the test kills it with SIGKILL while its bookings stand at a fault point (no
 * finally blocks, no socket shutdown by the program: the kernel closes its connections), then a coordinator
 * with a *new* id — a restarted instance — takes over, and the three databases are checked.
 */
describe('2PC with a coordinator process killed by SIGKILL, taken over by a new instance id', () => {
  const cluster = testCluster();
  let dbs: TestDatabases;
  let fixture: BundledFixture;

  beforeAll(async () => {
    dbs = await createTestDatabases(cluster, '2pc process kill');
    await createBookingTables(dbs);
    // The child runs the library's TypeScript source, bundled once (with the .sql migrations as text).
    fixture = await bundleFixture(new URL('./fixtures/doomed-coordinator.ts', import.meta.url));
  });
  // A child left running by a failed test would take over the next test's work as a live coordinator.
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });
  afterAll(async () => {
    await dbs.drop();
    await fixture?.remove();
  });

  /** A running child: the lines it printed so far, and a wait for a line matching a pattern. */
  interface Doomed {
    process: ChildProcess;
    lines: string[];
    waitFor(pattern: RegExp, count?: number): Promise<string[]>;
  }

  function start(config: object): Doomed {
    const child = spawn(process.execPath, [fixture.file, JSON.stringify(config)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(child);
    const lines: string[] = [];
    const waiters: (() => void)[] = [];
    let stderr = '';
    let exit: string | undefined;
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      for (const wake of waiters.splice(0)) wake();
    });
    child.on('exit', (code, signal) => {
      exit = `exited (${code ?? signal}): ${lines.join(' | ')} ${stderr}`;
      for (const wake of waiters.splice(0)) wake();
    });
    return {
      process: child,
      lines,
      async waitFor(pattern, count = 1) {
        for (;;) {
          const found = lines.filter((l) => pattern.test(l));
          if (found.length >= count) return found;
          if (exit) throw new Error(`child ${exit} before printing ${count} × ${pattern}`);
          await new Promise<void>((wake) => waiters.push(wake));
        }
      },
    };
  }

  async function signal(child: ChildProcess, name: 'SIGKILL'): Promise<void> {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(name);
    await exited;
  }

  function childConfig(id: string, key: string, mode: LogMode, extra: object) {
    return {
      id,
      key,
      urls: {
        seats: dbs.on(PARTICIPANTS.seats).connectionString,
        payments: dbs.on(PARTICIPANTS.payments).connectionString,
        tickets: dbs.on(PARTICIPANTS.tickets).connectionString,
      },
      separateLog: mode === 'separate',
      leaseMs: LEASE_MS,
      ...extra,
    };
  }

  const WORKERS = 4;
  const cases: { id: string; point: string; participant?: string; copies: 0 | 3; mode: LogMode }[] = [
    { id: 'doomed-1', point: '2pc:after-prepare', participant: 'tickets', copies: 0, mode: 'separate' },
    { id: 'doomed-2', point: '2pc:before-decision', copies: 0, mode: 'in-participant' },
    { id: 'doomed-3', point: '2pc:after-decision', copies: 3, mode: 'separate' },
    { id: 'doomed-4', point: '2pc:after-decision', copies: 3, mode: 'in-participant' },
    { id: 'doomed-5', point: '2pc:before-commit', participant: 'tickets', copies: 3, mode: 'in-participant' },
  ];

  it.each(cases)(
    'killed at $point $participant ($mode): the new instance gives $copies copies',
    async (c) => {
      const id = c.id;
      const key = `kill-${c.mode}-${c.point}-${c.participant ?? ''}`;
      const child = start(
        childConfig(id, key, c.mode, {
          point: c.point,
          participant: c.participant,
          workers: WORKERS,
          hangFrom: 3,
        }),
      );
      const hung = (await child.waitFor(/^at /, WORKERS)).map((line) => line.split(' ')[2]!);
      if (c.point === '2pc:before-commit') {
        // The other branches commit in parallel; kill once they have, so the kill lands "after some commits".
        await expect.poll(async () => (await preparedLeft(dbs)).length, { timeout: 5_000 }).toBe(WORKERS);
      }
      await signal(child.process, 'SIGKILL');
      const left = await preparedLeft(dbs);
      expect(left.length).toBeGreaterThan(0);
      if (c.copies === 0) for (const k of hung) expect(await copiesOf(dbs, k)).toBe(0);

      const successor = await startCoordinator(coordinatorOptions(dbs, c.mode, { id: `${id}-next` }));
      const startedAt = Date.now();
      const reports = await recoverUntilClean(successor, dbs, LEASE_MS + PREPARE_TIMEOUT_MS + MARGIN_MS);
      expect(await preparedLeft(dbs)).toEqual([]);
      const elapsed = Date.now() - startedAt;
      expect(elapsed).toBeLessThan(LEASE_MS + PREPARE_TIMEOUT_MS + MARGIN_MS);
      expect(reports.flatMap((r) => r.takenOver)).toContain(id);
      const finished = reports.flatMap((r) => (c.copies === 3 ? r.committed : r.aborted));
      // A PREPARE the child had already sent may land after the kill: the successor finishes it too.
      expect(finished).toEqual(expect.arrayContaining(left));

      // All or nothing for every booking of the run: the hung ones per their fault point, the others as answered.
      for (const k of hung) expect(await copiesOf(dbs, k)).toBe(c.copies);
      for (const line of child.lines.filter((l) => /^(committed|failed) /.test(l))) {
        const [outcome, k] = line.split(' ');
        expect(await copiesOf(dbs, k!)).toBe(outcome === 'committed' ? 3 : 0);
      }
    },
  );

  it.each<LogMode>(['in-participant', 'separate'])(
    'a paused coordinator (SIGSTOP) resumed after the takeover aborted its transaction cannot commit it (%s)',
    async (mode) => {
      const id = `paused-${mode}`;
      const key = `paused-${mode}`;
      const child = start(
        childConfig(id, key, mode, {
          point: '2pc:before-decision',
          workers: 1,
          hangFrom: 0,
          resumeOnInput: true,
        }),
      );
      await child.waitFor(/^at /);
      // Past its own deadline check, about to write the commit decision: frozen, so its lease runs out.
      child.process.kill('SIGSTOP');
      try {
        const successor = await startCoordinator(coordinatorOptions(dbs, mode, { id: `${id}-next` }));
        const reports = await recoverUntilClean(successor, dbs, LEASE_MS + PREPARE_TIMEOUT_MS + MARGIN_MS);
        expect(reports.flatMap((r) => r.takenOver)).toContain(id);
        expect(reports.flatMap((r) => r.aborted)).toHaveLength(mode === 'in-participant' ? 2 : 3);
      } finally {
        child.process.stdin!.write('go\n');
        child.process.kill('SIGCONT');
      }
      // Resumed, it writes its commit decision: the fence refuses it and the call fails; nothing is committed.
      const [ended] = await child.waitFor(/^(committed|failed) /);
      expect(ended).toBe(`failed ${key}-0 TRANSACTION_TIMEOUT`);
      await child.waitFor(/^finished$/);
      expect(await copiesOf(dbs, `${key}-0`)).toBe(0);
      expect(await preparedLeft(dbs)).toEqual([]);
    },
  );
});
