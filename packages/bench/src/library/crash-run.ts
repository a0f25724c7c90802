import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CrashPlan } from '../scenario/scenario.js';
import { type AuditReport, auditBookings, unfinishedWork } from './audit.js';
import type { BenchCluster } from './bench-cluster.js';
import type { BookingMode } from './booking-mode.js';
import { type InconsistencyReport, startInconsistencySampler } from './inconsistency-sampler.js';
import { contentionLabel } from './seat-picker.js';

/** What a crash-injection cell saw: the restarted process's recovery and load, the reader, and the audit. */
export interface CrashRunResult {
  mode: string;
  concurrency: number;
  contention: string;
  declineRate: number;
  killedAfterMs: number;
  /**
   * Prepared transactions and unfinished sagas or workflows the kill left (the process was frozen while they were
   * counted, so this is what it died with); 0 only if none showed up within {@link IN_FLIGHT_WAIT_MS}. Library
   * level only (an e2e crash kills an API instance on a timer).
   */
  inFlightAtKill?: number;
  /** Time the restarted process's recovery took to leave nothing unfinished. */
  recoverMs: number;
  /** Outcomes of the restarted process (the killed one's are unknown: it died before reporting). */
  afterRestart: Record<string, number>;
  inconsistency: InconsistencyReport;
  audit: AuditReport;
}

/** How long the kill waits for the load process to have work in flight before it kills it anyway. */
const IN_FLIGHT_WAIT_MS = 10_000;

const childScript = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

function startChild(args: object): {
  child: ChildProcess;
  lines: AsyncIterable<string>;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  async function* lines() {
    let buffer = '';
    for await (const chunk of child.stdout!) {
      buffer += chunk;
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        yield buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
      }
    }
  }
  return { child, lines: lines(), exited };
}

async function nextEvent(lines: AsyncIterable<string>, event: string): Promise<Record<string, unknown>> {
  for await (const line of lines) {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    if (parsed.event === event) return parsed;
  }
  throw new Error(`crash child exited before '${event}'`);
}

/**
 * One crash-injection cell: a child process drives the mode's load, is killed with SIGKILL after
 * `killAfterSeconds` (no cleanup of any kind: connections drop, prepared transactions and leased sagas stay),
 * is restarted, lets the mode's recovery finish, drives load again, exits; then the databases are audited.
 * The concurrent reader runs across the whole cell, so it also sees what the crash leaves visible until recovery.
 */
export async function runCrashCell(options: {
  plan: CrashPlan;
  mode: BookingMode;
  cluster: BenchCluster;
  /** Seats in the hall: under `fresh` contention the restarted process books from the second half. */
  seatCount: number;
  progress: (line: string) => void;
}): Promise<CrashRunResult> {
  const { plan, mode, cluster } = options;
  if (!mode.recover) throw new Error(`mode ${mode.name} has no recovery: it cannot take part in a crash run`);
  const base = {
    urls: cluster.urls,
    mode: mode.name,
    concurrency: plan.concurrency,
    contention: plan.contention,
    declineRate: plan.declineRate,
  };
  const sampler = await startInconsistencySampler(cluster.urls, {
    kind: 'library',
    singleDatabase: mode.singleDatabase ?? false,
  });
  const first = startChild({ ...base, seconds: 3600, recoverFirst: false, firstSeat: 1 });
  await nextEvent(first.lines, 'loading');
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, plan.killAfterSeconds * 1000));
  const inFlightAtKill = await killWithWorkInFlight(first.child, cluster);
  await first.exited;
  const killedAfterMs = performance.now() - t0;
  options.progress(
    `crash ${mode.name}: killed the load process with SIGKILL after ${(killedAfterMs / 1000).toFixed(1)} s ` +
      `with ${inFlightAtKill} transactions or sagas in flight; restarting`,
  );
  const second = startChild({
    ...base,
    seconds: plan.afterRestartSeconds,
    recoverFirst: true,
    firstSeat: Math.floor(options.seatCount / 2) + 1,
  });
  const done = await nextEvent(second.lines, 'done');
  const code = await second.exited;
  const inconsistency = await sampler.stop();
  if (code !== 0) throw new Error(`crash ${mode.name}: the restarted process exited with code ${code}`);
  const audit = await auditBookings(cluster.dbs, mode, {});
  const result: CrashRunResult = {
    mode: mode.name,
    concurrency: plan.concurrency,
    contention: contentionLabel(plan.contention),
    declineRate: plan.declineRate,
    killedAfterMs,
    inFlightAtKill,
    recoverMs: Number(done.recoverMs),
    afterRestart: done.outcomes as Record<string, number>,
    inconsistency,
    audit,
  };
  options.progress(
    `crash ${mode.name}: recovery took ${(result.recoverMs / 1000).toFixed(1)} s; after restart ${JSON.stringify(result.afterRestart)}; ` +
      `${audit.violations.length > 0 ? `AUDIT FAILED: ${audit.violations.join('; ')}` : 'audit ok'}`,
  );
  return result;
}

/**
 * SIGKILLs the load process at a moment it has work in flight, so that the restarted process has something to
 * recover: the process is frozen (SIGSTOP), the databases are counted as the kill would leave them, and it is
 * killed if something is in flight — else thawed and looked at again a moment later (between two bookings, or with
 * every branch still unprepared, a kill leaves nothing to recover). After {@link IN_FLIGHT_WAIT_MS} it is killed
 * anyway. Returns what was in flight.
 */
async function killWithWorkInFlight(child: ChildProcess, cluster: BenchCluster): Promise<number> {
  const deadline = performance.now() + IN_FLIGHT_WAIT_MS;
  for (;;) {
    child.kill('SIGSTOP');
    const { preparedLeft, sagasUnfinished } = await unfinishedWork(cluster.dbs);
    const inFlight = preparedLeft + sagasUnfinished;
    if (inFlight > 0 || performance.now() > deadline) {
      child.kill('SIGKILL');
      return inFlight;
    }
    child.kill('SIGCONT');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
