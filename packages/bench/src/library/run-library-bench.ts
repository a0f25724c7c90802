import type { CrashPlan, Sweep } from '../scenario/scenario.js';
import { type AuditReport, auditBookings } from './audit.js';
import { openBenchCluster } from './bench-cluster.js';
import { createBenchSchema, resetBenchData } from './bench-schema.js';
import type { BookingMode } from './booking-mode.js';
import { cpuText, cpuUsed, openCpuMeter, perBooking } from './cpu-meter.js';
import { type CrashRunResult, runCrashCell } from './crash-run.js';
import {
  type InconsistencyReport,
  SAMPLER_APPLICATION_NAME,
  startInconsistencySampler,
} from './inconsistency-sampler.js';
import { bookingModes } from './modes/index.js';
import { type LoadSample, type LoadSummary, runLoad, summariseSamples } from './run-load.js';
import { type Contention, contentionLabel, seatPicker } from './seat-picker.js';

/** Parameters of a library-level run. */
export interface LibraryBenchOptions {
  modes: string[];
  sweeps: Sweep[];
  durationMs: number;
  rounds: number;
  seatCount: number;
  crash?: CrashPlan;
  pgUrls?: string;
  /** Called with one line per finished cell, and with progress within a cell. */
  progress: (line: string) => void;
}

/** The conditions of one measurement cell (besides the mode). */
export interface CellConditions {
  sweep: string;
  contention: string;
  declineRate: number;
  concurrency: number;
}

/** A mode's figures under one set of conditions, merged over rounds. */
export type CellSummary = LoadSummary &
  CellConditions & { compensates: boolean; inconsistency: InconsistencyReport[] };

/** Everything a library-level run measured. */
export interface LibraryBenchResult {
  startedAt: string;
  finishedAt: string;
  options: Omit<LibraryBenchOptions, 'progress' | 'pgUrls'>;
  server: Record<string, string>;
  modes: { name: string; description: string; compensates: boolean; logStatementsPerBooking?: number }[];
  summaries: CellSummary[];
  audits: (CellConditions & { mode: string; round: number; report: AuditReport })[];
  crashes: (CrashRunResult | { mode: string; error: string })[];
}

function* cells(sweeps: readonly Sweep[]): Generator<CellConditions & { picker: Contention }> {
  for (const sweep of sweeps)
    for (const contention of sweep.contention)
      for (const declineRate of sweep.declineRates)
        for (const concurrency of sweep.concurrency)
          yield {
            sweep: sweep.label,
            contention: contentionLabel(contention),
            picker: contention,
            declineRate,
            concurrency,
          };
}

/** The crash cells that failed or whose audit found a violation, as messages (empty when all passed). */
export function crashFailures(result: Pick<LibraryBenchResult, 'crashes'>): string[] {
  return result.crashes.flatMap((c) =>
    'error' in c
      ? [`crash ${c.mode}: ${c.error}`]
      : c.audit.violations.map((v) => `crash ${c.mode}: AUDIT FAILED: ${v}`),
  );
}

function failIfViolated(what: string, report: AuditReport): void {
  if (report.violations.length > 0)
    throw new Error(`AUDIT FAILED for ${what}: ${report.violations.join('; ')}`);
}

/**
 * Runs every mode under every cell's conditions, `rounds` times, interleaved and rotated (A B C, then B C A, then
 * C A B) so that the machine's noise and a cell's position fall on all modes alike; a concurrent reader samples the databases during each
 * cell; the data is reset and audited after every cell. Then the crash-injection cells, if planned.
 * Throws if any audit finds a violation: numbers from an inconsistent run mean nothing.
 */
export async function runLibraryBench(options: LibraryBenchOptions): Promise<LibraryBenchResult> {
  const unknown = options.modes.filter((m) => !bookingModes[m]);
  if (unknown.length > 0) {
    throw new Error(`unknown mode(s) ${unknown.join(', ')}; known: ${Object.keys(bookingModes).join(', ')}`);
  }
  const startedAt = new Date().toISOString();
  const maxConcurrency = Math.max(
    ...options.sweeps.flatMap((s) => s.concurrency),
    options.crash?.concurrency ?? 1,
  );
  const cluster = await openBenchCluster({ pgUrls: options.pgUrls, poolSize: maxConcurrency + 8 });
  const modes: BookingMode[] = [];
  try {
    await createBenchSchema(cluster.dbs, options.seatCount);
    for (const name of options.modes) {
      const mode = await bookingModes[name]!(cluster.dbs);
      await mode.setup?.(cluster.dbs);
      modes.push(mode);
    }
    const { seats, payments, tickets } = cluster.dbs;
    // The sampler's backends are left out while alive; one that ended is reaped into its postmaster's figure.
    // A cell's sampler stops before the next cell's data reset (seconds), so it is reaped before that cell's
    // first reading and never lands in another cell's figure.
    const cpuMeter = await openCpuMeter([seats, payments, tickets], {
      excludeApplication: SAMPLER_APPLICATION_NAME,
    });
    const all = [...cells(options.sweeps)];
    const total = all.length * options.rounds * modes.length;
    let done = 0;
    const samples: (LoadSample & CellConditions & { inconsistency: InconsistencyReport })[] = [];
    const audits: LibraryBenchResult['audits'] = [];
    for (const { picker, ...cell } of all) {
      for (let round = 1; round <= options.rounds; round++) {
        for (const mode of rotate(modes, round - 1)) {
          await resetBenchData(cluster.dbs, options.seatCount);
          await mode.reset?.(cluster.dbs);
          const sampler = await startInconsistencySampler(cluster.urls, {
            kind: 'library',
            singleDatabase: mode.singleDatabase ?? false,
          });
          const cpuBefore = await cpuMeter?.read();
          const load = await runLoad({
            mode,
            concurrency: cell.concurrency,
            durationMs: options.durationMs,
            round,
            seats: seatPicker(picker),
            declineRate: cell.declineRate,
          });
          await mode.settle?.();
          const sample = cpuBefore ? { ...load, cpuMs: cpuUsed(cpuBefore, await cpuMeter!.read()) } : load;
          const inconsistency = await sampler.stop();
          samples.push({ ...sample, ...cell, inconsistency });
          const report = await auditBookings(cluster.dbs, mode, { confirmed: sample.outcomes.confirmed });
          audits.push({ ...cell, mode: mode.name, round, report });
          done++;
          const o = sample.outcomes;
          const rate = (o.confirmed + o.rejected + o.declined) / (sample.durationMs / 1000);
          options.progress(
            `[${String(done).padStart(String(total).length)}/${total}] ${cell.sweep}: ${mode.name.padEnd(12)} ` +
              `${cell.contention} decline ${cell.declineRate * 100}% c=${cell.concurrency} r${round}: ` +
              `${rate.toFixed(0)} bookings/s (${o.confirmed} ok, ${o.rejected} seat taken, ${o.declined} declined, ` +
              `${o.error} errors), ${inconsistency.samplesWithMixed}/${inconsistency.samples} samples mixed` +
              (sample.cpuMs
                ? `, CPU ${cpuText(perBooking(sample.cpuMs, o.confirmed + o.rejected + o.declined))} ms/booking`
                : '') +
              (report.violations.length > 0
                ? `  AUDIT FAILED: ${report.violations.join('; ')}`
                : '  audit ok') +
              (sample.firstError ? `  first error: ${sample.firstError}` : ''),
          );
          failIfViolated(`${mode.name} (${JSON.stringify(cell)}, round ${round})`, report);
        }
      }
    }
    const summaries: CellSummary[] = [];
    for (const { picker: _picker, ...cell } of all) {
      for (const mode of modes) {
        const mine = samples.filter(
          (s) =>
            s.mode === mode.name &&
            s.sweep === cell.sweep &&
            s.contention === cell.contention &&
            s.declineRate === cell.declineRate &&
            s.concurrency === cell.concurrency,
        );
        summaries.push({
          ...summariseSamples(mine),
          ...cell,
          compensates: mode.compensates ?? false,
          inconsistency: mine.map((s) => s.inconsistency),
        });
      }
    }
    // Read before the crash cells: they reset the modes' logs and book in a child process, which would leave
    // nothing to divide by.
    const logStatements = new Map(modes.map((m) => [m.name, m.logStatementsPerBooking?.()]));
    const crashes: LibraryBenchResult['crashes'] = [];
    if (options.crash) {
      for (const name of options.crash.modes) {
        const mode = modes.find((m) => m.name === name)!;
        await resetBenchData(cluster.dbs, options.seatCount);
        await mode.reset?.(cluster.dbs);
        // A failed crash cell is recorded, not thrown at once, so that the report of everything else is still
        // written; the caller fails the run afterwards (see crashFailures).
        try {
          crashes.push(
            await runCrashCell({
              plan: options.crash,
              mode,
              cluster,
              seatCount: options.seatCount,
              progress: options.progress,
            }),
          );
        } catch (error) {
          options.progress(`crash ${name}: FAILED: ${(error as Error).message}`);
          crashes.push({ mode: name, error: (error as Error).message });
        }
      }
    }
    const { progress: _progress, pgUrls: _urls, ...recorded } = options;
    return {
      startedAt,
      finishedAt: new Date().toISOString(),
      options: recorded,
      server: cluster.server,
      modes: modes.map((m) => {
        const log = logStatements.get(m.name);
        return {
          name: m.name,
          description: m.description,
          compensates: m.compensates ?? false,
          ...(log === undefined ? {} : { logStatementsPerBooking: log }),
        };
      }),
      summaries,
      audits,
      crashes,
    };
  } finally {
    for (const mode of modes) await mode.close?.();
    await cluster.close();
  }
}

/**
 * The modes in the order round `shift` runs them: each round starts one mode later, so over as many rounds as
 * there are modes every mode runs once in every position. A cell's position matters on a shared machine (what
 * the previous cell left behind: WAL to flush, a checkpoint, autovacuum); rotating spreads it over all modes.
 */
function rotate<T>(items: T[], shift: number): T[] {
  const k = shift % Math.max(items.length, 1);
  return [...items.slice(k), ...items.slice(0, k)];
}
