import type pg from 'pg';
import { startPostgresCluster } from 'txkit/testing';
import { benchServerSettings, openBenchCluster } from '../library/bench-cluster.js';
import { type CpuMeter, cpuUsed, openCpuMeter, processCpuMs } from '../library/cpu-meter.js';
import {
  type InconsistencyReport,
  SAMPLER_APPLICATION_NAME,
  startInconsistencySampler,
} from '../library/inconsistency-sampler.js';
import { libraryReportCharts, libraryReportMarkdown } from '../library/library-report.js';
import type { CellSummary, LibraryBenchResult } from '../library/run-library-bench.js';
import { summariseSamples } from '../library/run-load.js';
import { type Contention, contentionLabel, seatPicker } from '../library/seat-picker.js';
import { writeReport } from '../report/write-report.js';
import type { Scenario } from '../scenario/scenario.js';
import { auditDemo, settleBookings } from './demo-audit.js';
import { createBenchScreening, fundCustomers, lastRowIds } from './demo-fixtures.js';
import { type DemoDeployment, startDemo } from './demo-processes.js';
import {
  type E2eSample,
  e2eExtrasMarkdown,
  type LevelComparison,
  type ScalingCell,
  type StatementCell,
} from './e2e-extras-report.js';
import { runHttpLoad, signUp } from './http-load.js';
import { openLibraryReference } from './library-reference.js';
import { openStatementCounter, type StatementCounter } from './statement-counter.js';

/**
 * The sweeps run one API instance behind HAProxy (the targets are per instance); the crash cells two
 * (one is killed, the other carries on); the scaling cells 1, 2 and 3 (a 2-core machine: more would only queue).
 */
const crashInstances = 2;
const scalingInstances = [1, 2, 3];
const basePort = 18_080;

/**
 * The bench's servers (production durability, as the library level's) with pg_stat_statements preloaded, so that
 * the statements a booking costs the seats database can be counted.
 */
const e2eServerSettings = { ...benchServerSettings, shared_preload_libraries: 'pg_stat_statements' };

/** What the cells of one e2e run share. */
interface E2eRun {
  cluster: Awaited<ReturnType<typeof openBenchCluster>>;
  progress: (line: string) => void;
  /** Signs up `n` new customers through the deployment; their bearer tokens. */
  customers(demo: DemoDeployment, n: number): Promise<string[]>;
}

/** One e2e measurement: the load's sample (with the API instances' and servers' CPU), its reader and its audit. */
interface E2eCell {
  sample: E2eSample;
  inconsistency: InconsistencyReport;
  report: Awaited<ReturnType<typeof auditDemo>>;
}

/**
 * The end-to-end level: the demo's API processes behind HAProxy on three fresh PostgreSQL servers, HTTP load, a
 * concurrent reader on the demo's tables, an audit of the demo's databases after every cell (and after a crash
 * of an API instance), and the same report as the library level. In the same run: the library level of the same
 * modes on the same servers, cell by cell (the e2e/library ratio), the statements a booking costs the seats
 * database (pg_stat_statements, a cell without the reader), and the scaling over 1, 2 and 3 instances. The
 * decline rate is the demo's own `PAYMENT_DECLINE_RATE` (random per booking, not the library's deterministic
 * choice), so the API is restarted per decline rate.
 */
export async function runE2eScenario(
  scenario: Scenario,
  out: string,
  progress: (line: string) => void,
): Promise<void> {
  const startedAt = new Date().toISOString();
  const maxClients = Math.max(
    ...scenario.sweeps.flatMap((s) => s.concurrency),
    scenario.crash?.concurrency ?? 1,
  );
  const servers = await startPostgresCluster({
    names: ['seats', 'payments', 'tickets'],
    settings: e2eServerSettings,
  });
  const cluster = await openBenchCluster({
    pgUrls: servers.instances.map((i) => i.connectionString).join(','),
    poolSize: 8,
  });
  const server = cluster.server;
  const summaries: CellSummary[] = [];
  const audits: LibraryBenchResult['audits'] = [];
  const crashes: LibraryBenchResult['crashes'] = [];
  const comparisons: LevelComparison[] = [];
  const statements: StatementCell[] = [];
  const scaling: ScalingCell[] = [];
  const notes = new Set<string>();
  let customerCount = 0;
  const run: E2eRun = {
    cluster,
    progress,
    async customers(demo, n) {
      const tokens: string[] = [];
      for (let i = 0; i < n; i++)
        tokens.push(await signUp(demo.baseUrl, `bench-${process.pid}-${++customerCount}`));
      return tokens;
    },
  };
  const modes = scenario.modes as ('saga' | '2pc')[];
  const reference = await openLibraryReference(cluster.urls, modes, maxClients + 8);
  const counter = await openStatementCounter(cluster.dbs.seats);
  const start = (instances: number, declineRate: number) =>
    startDemo({ urls: cluster.urls, instances, declineRate, basePort, log: progress });
  try {
    const declineRates = [...new Set(scenario.sweeps.flatMap((s) => s.declineRates))];
    for (const declineRate of declineRates) {
      const demo = await start(1, declineRate);
      notes.add(demo.note);
      try {
        const meter = await apiCpuMeter(cluster, demo);
        const tokens = await run.customers(demo, maxClients);
        for (const sweep of scenario.sweeps.filter((s) => s.declineRates.includes(declineRate))) {
          for (const contention of sweep.contention) {
            for (const concurrency of sweep.concurrency) {
              const cell = {
                sweep: sweep.label,
                contention: contentionLabel(contention),
                declineRate,
                concurrency,
              };
              const byMode = new Map(modes.map((m) => [m, [] as E2eCell[]]));
              for (let round = 1; round <= scenario.rounds; round++) {
                for (const mode of modes) {
                  // The library level first, then the demo, back to back: the same machine load for both.
                  const library = await reference.cell(mode, {
                    concurrency,
                    contention,
                    declineRate,
                    durationMs: scenario.durationSeconds * 1000,
                    round,
                  });
                  const e2e = await measureCell(run, demo, meter, {
                    mode,
                    tokens: tokens.slice(0, concurrency),
                    contention,
                    durationMs: scenario.durationSeconds * 1000,
                    round,
                    label: `${sweep.label}: ${mode.padEnd(5)} ${cell.contention} decline ${declineRate * 100}% c=${concurrency} r${round}`,
                  });
                  audits.push({ ...cell, mode, round, report: e2e.report });
                  byMode.get(mode)!.push(e2e);
                  comparisons.push({ ...cell, mode, round, library, e2e: e2e.sample });
                }
              }
              for (const [mode, cells] of byMode) {
                summaries.push({
                  ...summariseSamples(cells.map((c) => c.sample)),
                  ...cell,
                  compensates: mode === 'saga',
                  inconsistency: cells.map((c) => c.inconsistency),
                });
              }
            }
          }
        }
        if (counter && declineRate === declineRates[0]) {
          for (const mode of modes) {
            statements.push(await statementCell(run, demo, counter, mode, tokens.slice(0, 4)));
          }
        }
      } finally {
        await demo.stop();
      }
    }
    const topConcurrency = Math.max(...(scenario.sweeps[0]?.concurrency ?? [8]));
    for (const instances of scalingInstances) {
      const demo = await start(instances, 0);
      try {
        const meter = await apiCpuMeter(cluster, demo);
        const tokens = await run.customers(demo, topConcurrency);
        for (let round = 1; round <= scenario.rounds; round++) {
          for (const mode of modes) {
            const e2e = await measureCell(run, demo, meter, {
              mode,
              tokens,
              contention: { kind: 'fresh' },
              durationMs: scenario.durationSeconds * 1000,
              round,
              label: `scaling: ${mode.padEnd(5)} ${demo.note}, c=${topConcurrency} r${round}`,
            });
            scaling.push({
              instances: demo.instances,
              proxied: demo.proxied,
              mode,
              round,
              sample: e2e.sample,
            });
          }
        }
      } finally {
        await demo.stop();
      }
    }
    if (scenario.crash) {
      const demo = await start(crashInstances, 0);
      try {
        for (const mode of scenario.crash.modes as ('saga' | '2pc')[]) {
          crashes.push(
            await crashCell(
              scenario,
              mode,
              demo,
              cluster,
              await run.customers(demo, scenario.crash.concurrency),
              progress,
            ),
          );
        }
      } finally {
        await demo.stop();
      }
    }
  } finally {
    await reference.close();
    await cluster.close();
    await servers.destroy();
  }
  const result: LibraryBenchResult = {
    startedAt,
    finishedAt: new Date().toISOString(),
    options: {
      modes: scenario.modes,
      sweeps: scenario.sweeps,
      durationMs: scenario.durationSeconds * 1000,
      rounds: scenario.rounds,
      seatCount: 3000,
      ...(scenario.crash ? { crash: scenario.crash } : {}),
    },
    server,
    modes: scenario.modes.map((name) => ({
      name,
      description: `the demo API's ${name} booking over HTTP (${[...notes].join('; ')})`,
      compensates: name === 'saga',
    })),
    summaries,
    audits,
    crashes,
  };
  const report = libraryReportMarkdown(result, scenario.baseline, "the API instances' processes");
  const extras = e2eExtrasMarkdown({ comparisons, statements, scaling });
  const markdown = `${[...notes].join('; ')}.\n\n${report.replace('Library-level', 'End-to-end')}\n\n${extras}`;
  await writeReport({
    dir: out,
    title: `txkit bench — ${scenario.name} (end to end)`,
    results: { scenario, ...result, comparisons, statements, scaling },
    markdown,
    charts: await libraryReportCharts(result),
  });
  console.log(`\n${markdown}\nresults written to ${out}`);
  const failed = crashes.filter((c) => 'error' in c || c.audit.violations.length > 0);
  if (failed.length > 0) throw new Error(`crash injection failed: ${JSON.stringify(failed)}`);
}

/**
 * The bookings' own time inside the API (their waterfalls' `total_ms`), for a screening's bookings. The API writes
 * waterfalls in batches every 250 ms: the last ones of a cell may not be there yet, which a median does not miss.
 */
async function engineTimes(seats: pg.Pool, screeningId: number): Promise<number[]> {
  const { rows } = await seats.query<{ total_ms: number }>(
    `SELECT w.total_ms FROM cinema.booking_waterfalls w JOIN cinema.bookings b ON b.id = w.booking_id
      WHERE b.screening_id = $1 AND w.run = 'booking'`,
    [screeningId],
  );
  return rows.map((r) => r.total_ms);
}

/** CPU of a deployment's API processes and of the servers (the reader's backends left out). */
function apiCpuMeter(cluster: E2eRun['cluster'], demo: DemoDeployment): Promise<CpuMeter | undefined> {
  const { seats, payments, tickets } = cluster.dbs;
  return openCpuMeter([seats, payments, tickets], {
    excludeApplication: SAMPLER_APPLICATION_NAME,
    nodeProcesses: () => demo.apiPids(),
  });
}

/** One e2e cell on a screening of its own: load, CPU, the reader's report, settling and the audit. */
async function measureCell(
  run: E2eRun,
  demo: DemoDeployment,
  meter: CpuMeter | undefined,
  o: {
    mode: 'saga' | '2pc';
    tokens: string[];
    contention: Contention;
    durationMs: number;
    round: number;
    label: string;
  },
): Promise<E2eCell> {
  const { screeningId, seatIds, moneyBefore, since, sampler } = await startCell(
    run.cluster,
    `bench ${Date.now()} ${o.mode}`,
  );
  const cpuBefore = await meter?.read();
  const clientBefore = processCpuMs('main-thread');
  const proxyPid = demo.proxyPid();
  const proxyBefore = proxyPid === undefined ? undefined : processCpuMs(proxyPid);
  const load = await runHttpLoad({
    baseUrl: demo.baseUrl,
    tokens: o.tokens,
    mode: o.mode,
    screeningId,
    seatIds,
    seats: seatPicker(o.contention),
    durationMs: o.durationMs,
    round: o.round,
  });
  const used = (before: number | undefined, after: number | undefined) =>
    before === undefined || after === undefined ? undefined : after - before;
  const clientCpuMs = used(clientBefore, processCpuMs('main-thread'));
  const proxyCpuMs = proxyPid === undefined ? undefined : used(proxyBefore, processCpuMs(proxyPid));
  const withCpu = cpuBefore ? { ...load, cpuMs: cpuUsed(cpuBefore, await meter!.read()) } : load;
  const inconsistency = await sampler.stop();
  const pendingLeft = await settleBookings(run.cluster.dbs, screeningId, 60_000);
  const sample: E2eSample = {
    ...withCpu,
    clientCpuMs,
    proxyCpuMs,
    engineMs: await engineTimes(run.cluster.dbs.seats, screeningId),
  };
  const report = await auditDemo(run.cluster.dbs, {
    screeningId,
    since,
    moneyBefore,
    confirmedAnswers: sample.outcomes.confirmed,
    pendingLeft,
  });
  const out = sample.outcomes;
  const answered = out.confirmed + out.rejected + out.declined;
  run.progress(
    `e2e ${o.label}: ${(answered / (sample.durationMs / 1000)).toFixed(0)} bookings/s ` +
      `(${out.confirmed} ok, ${out.rejected} refused ${JSON.stringify(sample.reasons)}, ${out.declined} declined, ${out.error} errors)` +
      (sample.cpuMs ? `, API CPU ${(sample.cpuMs.node / Math.max(1, answered)).toFixed(2)} ms/booking` : '') +
      (report.violations.length > 0 ? `  AUDIT FAILED: ${report.violations.join('; ')}` : '  audit ok') +
      (sample.firstError ? `  first error: ${sample.firstError}` : ''),
  );
  if (report.violations.length > 0)
    throw new Error(`AUDIT FAILED for e2e ${o.label}: ${report.violations.join('; ')}`);
  return { sample, inconsistency, report };
}

/**
 * The statements a booking costs the seats database: a cell without the concurrent reader (its reads would
 * count), pg_stat_statements reset before the load and read right after it (before settling and the audit).
 * The API's background work during the cell (relay polls, recovery passes, lease renewals) is counted too: it is
 * part of what the database does per booking.
 */
async function statementCell(
  run: E2eRun,
  demo: DemoDeployment,
  counter: StatementCounter,
  mode: 'saga' | '2pc',
  tokens: string[],
): Promise<StatementCell> {
  const { screeningId, seatIds } = await createBenchScreening(run.cluster.dbs, `statements ${mode}`, 50);
  await counter.reset();
  const load = await runHttpLoad({
    baseUrl: demo.baseUrl,
    tokens,
    mode,
    screeningId,
    seatIds,
    seats: seatPicker({ kind: 'fresh' }),
    durationMs: 3_000,
    round: 1,
  });
  const counts = await counter.read();
  await settleBookings(run.cluster.dbs, screeningId, 60_000);
  const bookings = load.outcomes.confirmed + load.outcomes.rejected + load.outcomes.declined;
  const cell = { mode, bookings, confirmed: load.outcomes.confirmed, counts };
  const total = counts.reduce((sum, c) => sum + c.calls, 0);
  run.progress(
    `e2e statements: ${mode.padEnd(5)} ${(total / Math.max(1, bookings)).toFixed(1)} seats-database statements per booking (${bookings} bookings)`,
  );
  return cell;
}

/**
 * kill -9 of the first API instance while bookings run through it, a restart on the same port, the load
 * carrying on (through HAProxy to the other instance meanwhile), then recovery and the audit. Answers lost with
 * the killed instance are retried by the client with the same idempotency key or left to the sweep.
 */
async function crashCell(
  scenario: Scenario,
  mode: 'saga' | '2pc',
  demo: DemoDeployment,
  cluster: Awaited<ReturnType<typeof openBenchCluster>>,
  tokens: string[],
  progress: (line: string) => void,
): Promise<LibraryBenchResult['crashes'][number]> {
  const plan = scenario.crash!;
  try {
    const { screeningId, seatIds, moneyBefore, since, sampler } = await startCell(
      cluster,
      `bench crash ${Date.now()} ${mode}`,
    );
    const load = runHttpLoad({
      baseUrl: demo.baseUrl,
      tokens,
      mode,
      screeningId,
      seatIds,
      seats: seatPicker(plan.contention),
      durationMs: (plan.killAfterSeconds + plan.afterRestartSeconds) * 1000,
      round: 1,
    });
    await new Promise((resolve) => setTimeout(resolve, plan.killAfterSeconds * 1000));
    const t0 = performance.now();
    await demo.crashInstance(0);
    const restartMs = performance.now() - t0;
    progress(
      `e2e crash ${mode}: killed API instance 1 with SIGKILL, restarted in ${(restartMs / 1000).toFixed(1)} s`,
    );
    const sample = await load;
    const t1 = performance.now();
    const pendingLeft = await settleBookings(cluster.dbs, screeningId, 90_000);
    const recoverMs = performance.now() - t1;
    const inconsistency = await sampler.stop();
    const audit = await auditDemo(cluster.dbs, { screeningId, since, moneyBefore, pendingLeft });
    progress(
      `e2e crash ${mode}: ${JSON.stringify(sample.outcomes)}; settled in ${(recoverMs / 1000).toFixed(1)} s; ` +
        (audit.violations.length > 0 ? `AUDIT FAILED: ${audit.violations.join('; ')}` : 'audit ok'),
    );
    return {
      mode,
      concurrency: tokens.length,
      contention: contentionLabel(plan.contention),
      declineRate: 0,
      killedAfterMs: plan.killAfterSeconds * 1000,
      recoverMs,
      afterRestart: sample.outcomes,
      inconsistency,
      audit,
    };
  } catch (error) {
    progress(`e2e crash ${mode}: FAILED: ${(error as Error).message}`);
    return { mode, error: (error as Error).message };
  }
}

/**
 * What every end-to-end cell starts from: a screening of its own (50 free seats), funded customers (the money in
 * the system, for the audit), the time it started, and the concurrent reader watching that screening.
 */
async function startCell(cluster: Awaited<ReturnType<typeof openBenchCluster>>, label: string) {
  const { screeningId, seatIds } = await createBenchScreening(cluster.dbs, label, 50);
  const moneyBefore = await fundCustomers(cluster.dbs);
  const since = new Date();
  const sampler = await startInconsistencySampler(cluster.urls, {
    kind: 'demo',
    screeningId,
    after: await lastRowIds(cluster.dbs),
  });
  return { screeningId, seatIds, moneyBefore, since, sampler };
}
