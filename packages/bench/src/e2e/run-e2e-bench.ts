import { openBenchCluster } from '../library/bench-cluster.js';
import { cpuUsed, openCpuMeter } from '../library/cpu-meter.js';
import {
  type InconsistencyReport,
  SAMPLER_APPLICATION_NAME,
  startInconsistencySampler,
} from '../library/inconsistency-sampler.js';
import { libraryReportCharts, libraryReportMarkdown } from '../library/library-report.js';
import type { CellSummary, LibraryBenchResult } from '../library/run-library-bench.js';
import { summariseSamples } from '../library/run-load.js';
import { contentionLabel, seatPicker } from '../library/seat-picker.js';
import { writeReport } from '../report/write-report.js';
import type { Scenario } from '../scenario/scenario.js';
import { auditDemo, settleBookings } from './demo-audit.js';
import { createBenchScreening, fundCustomers } from './demo-fixtures.js';
import { type DemoDeployment, startDemo } from './demo-processes.js';
import { runHttpLoad, signUp } from './http-load.js';

/** API instances behind HAProxy when it is installed (a 2-core machine: more would only queue). */
const apiInstances = 2;
const basePort = 18_080;

/**
 * The end-to-end level: the demo's API processes on three fresh PostgreSQL servers, HTTP load through HAProxy
 * (or straight to one instance without it), a concurrent reader on the demo's tables, an audit of the demo's
 * databases after every cell (and after a crash of an API instance), and the same report as the library level.
 * The decline rate is the demo's own `PAYMENT_DECLINE_RATE` (random per booking, not the library's
 * deterministic choice), so the API is restarted per decline rate.
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
  const cluster = await openBenchCluster({ poolSize: 8 });
  const server = cluster.server;
  const summaries: CellSummary[] = [];
  const audits: LibraryBenchResult['audits'] = [];
  const crashes: LibraryBenchResult['crashes'] = [];
  const notes = new Set<string>();
  let customerCount = 0;
  const customers = async (demo: DemoDeployment, n: number) => {
    const tokens: string[] = [];
    for (let i = 0; i < n; i++)
      tokens.push(await signUp(demo.baseUrl, `bench-${process.pid}-${++customerCount}`));
    return tokens;
  };
  try {
    const declineRates = [...new Set(scenario.sweeps.flatMap((s) => s.declineRates))];
    for (const declineRate of declineRates) {
      const demo = await startDemo({
        urls: cluster.urls,
        instances: apiInstances,
        declineRate,
        basePort,
        log: progress,
      });
      notes.add(demo.note);
      const { seats, payments, tickets } = cluster.dbs;
      const cpuMeter = await openCpuMeter([seats, payments, tickets], {
        excludeApplication: SAMPLER_APPLICATION_NAME,
        nodeProcesses: () => demo.apiPids(),
      });
      try {
        const tokens = await customers(demo, maxClients);
        for (const sweep of scenario.sweeps.filter((s) => s.declineRates.includes(declineRate))) {
          for (const contention of sweep.contention) {
            for (const concurrency of sweep.concurrency) {
              const cell = {
                sweep: sweep.label,
                contention: contentionLabel(contention),
                declineRate,
                concurrency,
              };
              const samples: Parameters<typeof summariseSamples>[0][number][] = [];
              const inconsistency: InconsistencyReport[] = [];
              for (const mode of scenario.modes as ('saga' | '2pc')[]) {
                for (let round = 1; round <= scenario.rounds; round++) {
                  const { screeningId, seatIds, moneyBefore, since, sampler } = await startCell(
                    cluster,
                    `bench ${Date.now()} ${mode}`,
                  );
                  const cpuBefore = await cpuMeter?.read();
                  const load = await runHttpLoad({
                    baseUrl: demo.baseUrl,
                    tokens: tokens.slice(0, concurrency),
                    mode,
                    screeningId,
                    seatIds,
                    seats: seatPicker(contention),
                    durationMs: scenario.durationSeconds * 1000,
                    round,
                  });
                  const sample = cpuBefore
                    ? { ...load, cpuMs: cpuUsed(cpuBefore, await cpuMeter!.read()) }
                    : load;
                  inconsistency.push(await sampler.stop());
                  const pendingLeft = await settleBookings(cluster.dbs, screeningId, 60_000);
                  const report = await auditDemo(cluster.dbs, {
                    screeningId,
                    since,
                    moneyBefore,
                    confirmedAnswers: sample.outcomes.confirmed,
                    pendingLeft,
                  });
                  audits.push({ ...cell, mode, round, report });
                  samples.push(sample);
                  const o = sample.outcomes;
                  progress(
                    `e2e ${sweep.label}: ${mode.padEnd(5)} ${cell.contention} decline ${declineRate * 100}% c=${concurrency} r${round}: ` +
                      `${((o.confirmed + o.rejected + o.declined) / (sample.durationMs / 1000)).toFixed(0)} bookings/s ` +
                      `(${o.confirmed} ok, ${o.rejected} refused ${JSON.stringify(sample.reasons)}, ${o.declined} declined, ${o.error} errors)` +
                      (report.violations.length > 0
                        ? `  AUDIT FAILED: ${report.violations.join('; ')}`
                        : '  audit ok') +
                      (sample.firstError ? `  first error: ${sample.firstError}` : ''),
                  );
                  if (report.violations.length > 0)
                    throw new Error(
                      `AUDIT FAILED for e2e ${mode} ${JSON.stringify(cell)}: ${report.violations.join('; ')}`,
                    );
                }
                const mine = samples.filter((s) => s.mode === mode);
                summaries.push({
                  ...summariseSamples(mine),
                  ...cell,
                  compensates: mode === 'saga',
                  inconsistency: inconsistency.slice(-mine.length),
                });
              }
            }
          }
        }
        if (scenario.crash && declineRate === declineRates[0]) {
          for (const mode of scenario.crash.modes as ('saga' | '2pc')[]) {
            crashes.push(
              await crashCell(
                scenario,
                mode,
                demo,
                cluster,
                await customers(demo, scenario.crash.concurrency),
                progress,
              ),
            );
          }
        }
      } finally {
        await demo.stop();
      }
    }
  } finally {
    await cluster.close();
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
  const markdown = `${[...notes].join('; ')}.\n\n${report.replace('Library-level', 'End-to-end')}`;
  await writeReport({
    dir: out,
    title: `txkit bench — ${scenario.name} (end to end)`,
    results: { scenario, ...result },
    markdown,
    charts: await libraryReportCharts(result),
  });
  console.log(`\n${markdown}\nresults written to ${out}`);
  const failed = crashes.filter((c) => 'error' in c || c.audit.violations.length > 0);
  if (failed.length > 0) throw new Error(`crash injection failed: ${JSON.stringify(failed)}`);
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
    since: since.toISOString(),
  });
  return { screeningId, seatIds, moneyBefore, since, sampler };
}
