import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { createTestDatabases, type TestDatabases, testCluster } from 'txkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuText, cpuUsed, openCpuMeter, perBooking, processCpuMs } from '../src/library/cpu-meter.js';

/** CPU time used so far by a process or thread, read from its /proc stat file (clock ticks of 10 ms). */
function cpuMsOf(statFile: string): number {
  const stat = readFileSync(statFile, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

describe('CPU meter', () => {
  let test: TestDatabases;

  beforeAll(async () => {
    test = await createTestDatabases(testCluster(), 'bench cpu meter');
  });
  afterAll(() => test.drop());

  it('charges a query to the server that ran it and a busy loop to this process', async () => {
    const [a, b] = [test.on('a').pool, test.on('b').pool];
    const meter = await openCpuMeter([a, b]);
    if (!meter) throw new Error('the test servers run on this machine: /proc must show them');
    const before = await meter.read();
    await a.query('SELECT count(*) FROM generate_series(1, 5000000)');
    // 150 ms of this thread's CPU time, not of the clock: on a busy machine the loop is not always on a core.
    const thread = `/proc/self/task/${process.pid}/stat`;
    for (const start = cpuMsOf(thread); cpuMsOf(thread) - start < 150; );
    const used = cpuUsed(before, await meter.read());
    // Clock ticks are 10 ms; a 5-million-row count takes far more than one on any machine.
    expect(used.postgres).toBeGreaterThanOrEqual(50);
    expect(used.node).toBeGreaterThanOrEqual(100);
    const afterA = await meter.read();
    await b.query('SELECT count(*) FROM generate_series(1, 5000000)');
    const onlyB = await meter.read();
    expect(onlyB.postgresMs[1]! - afterA.postgresMs[1]!).toBeGreaterThanOrEqual(50);
  });

  it("leaves out the backends of the excluded application (the sampler's), alive at both readings", async () => {
    const a = test.on('a').pool;
    const sampler = new pg.Client({
      connectionString: test.on('a').connectionString,
      application_name: 'sampler',
    });
    await sampler.connect();
    try {
      const withSampler = await openCpuMeter([a]);
      const withoutSampler = await openCpuMeter([a], { excludeApplication: 'sampler' });
      const before = [await withSampler!.read(), await withoutSampler!.read()] as const;
      await sampler.query('SELECT count(*) FROM generate_series(1, 5000000)');
      const counted = cpuUsed(before[0], await withSampler!.read()).postgres;
      const excluded = cpuUsed(before[1], await withoutSampler!.read()).postgres;
      expect(counted).toBeGreaterThanOrEqual(50);
      expect(excluded).toBeLessThan(counted / 2);
    } finally {
      await sampler.end();
    }
  });

  it('charges the given processes as node instead of this thread (end to end: the API instances)', async () => {
    const a = test.on('a').pool;
    // A child that burns CPU until it is killed (its CPU is read while it is alive).
    const child = spawn(process.execPath, ['-e', 'for (;;);']);
    try {
      const meter = await openCpuMeter([a], { nodeProcesses: () => (child.pid ? [child.pid] : []) });
      const before = await meter!.read();
      const start = cpuMsOf(`/proc/${child.pid}/stat`);
      // Until the child itself has used 150 ms of CPU, however long a busy machine takes to give it that much.
      await expect
        .poll(() => cpuMsOf(`/proc/${child.pid}/stat`) - start, { timeout: 10_000 })
        .toBeGreaterThanOrEqual(150);
      const used = cpuUsed(before, await meter!.read());
      expect(used.node).toBeGreaterThanOrEqual(100);
    } finally {
      child.kill();
    }
  });

  it("reads one process's CPU (e2e: HAProxy) and this main thread's (the HTTP client); nothing for a gone process", async () => {
    const child = spawn(process.execPath, ['-e', 'for (;;);']);
    try {
      const start = processCpuMs(child.pid!)!;
      await expect
        .poll(() => processCpuMs(child.pid!)! - start, { timeout: 10_000 })
        .toBeGreaterThanOrEqual(100);
    } finally {
      child.kill();
    }
    const mine = processCpuMs('main-thread')!;
    const until = Date.now() + 10_000;
    while (processCpuMs('main-thread')! - mine < 50 && Date.now() < until) Math.sqrt(Math.random());
    expect(processCpuMs('main-thread')! - mine).toBeGreaterThanOrEqual(50);
    expect(processCpuMs(2 ** 22 + 1)).toBeUndefined();
  });

  it('divides CPU over bookings and prints it as node + postgres', () => {
    const use = cpuUsed({ nodeMs: 100, postgresMs: [10, 20] }, { nodeMs: 150, postgresMs: [40, 70] });
    expect(use).toEqual({ node: 50, postgres: 80 });
    expect(cpuText(perBooking(use, 100))).toBe('0.50 + 0.80');
    expect(perBooking(use, 0)).toBeUndefined();
    expect(cpuText(undefined)).toBe('–');
  });
});
