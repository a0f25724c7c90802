import { type AuditReport, auditBookings } from './audit.js';
import { openBenchCluster } from './bench-cluster.js';
import { createBenchSchema, resetBenchData } from './bench-schema.js';
import type { BookingMode } from './booking-mode.js';
import { bookingModes } from './modes/index.js';
import { type LoadSample, type LoadSummary, runLoad, summariseSamples } from './run-load.js';
import { type Contention, seatPicker } from './seat-picker.js';

/** Parameters of a library-level run. */
export interface LibraryBenchOptions {
  modes: string[];
  concurrency: number[];
  durationMs: number;
  rounds: number;
  contention: Contention;
  seatCount: number;
  pgUrls?: string;
  /** Called with one line per finished cell. */
  progress: (line: string) => void;
}

/** Everything a library-level run measured. */
export interface LibraryBenchResult {
  startedAt: string;
  options: Omit<LibraryBenchOptions, 'progress'>;
  server: Record<string, string>;
  modes: { name: string; description: string; logStatementsPerBooking?: number }[];
  summaries: LoadSummary[];
  audits: { mode: string; concurrency: number; round: number; report: AuditReport }[];
}

/**
 * Runs every mode at every concurrency, `rounds` times, interleaved (mode A, B, C, then A, B, C again) so that
 * the machine's noise falls on all modes alike; resets the data and audits the databases after every cell.
 * Throws if any audit finds a violation: numbers from an inconsistent run mean nothing.
 */
export async function runLibraryBench(options: LibraryBenchOptions): Promise<LibraryBenchResult> {
  const unknown = options.modes.filter((m) => !bookingModes[m]);
  if (unknown.length > 0) {
    throw new Error(`unknown mode(s) ${unknown.join(', ')}; known: ${Object.keys(bookingModes).join(', ')}`);
  }
  const startedAt = new Date().toISOString();
  const cluster = await openBenchCluster({
    pgUrls: options.pgUrls,
    poolSize: Math.max(...options.concurrency) + 8,
  });
  const modes: BookingMode[] = [];
  try {
    await createBenchSchema(cluster.dbs, options.seatCount);
    for (const name of options.modes) {
      const mode = await bookingModes[name]!(cluster.dbs);
      await mode.setup?.(cluster.dbs);
      modes.push(mode);
    }
    const samples: LoadSample[] = [];
    const audits: LibraryBenchResult['audits'] = [];
    for (const concurrency of options.concurrency) {
      for (let round = 1; round <= options.rounds; round++) {
        for (const mode of modes) {
          await resetBenchData(cluster.dbs, options.seatCount);
          await mode.reset?.(cluster.dbs);
          const sample = await runLoad({
            mode,
            concurrency,
            durationMs: options.durationMs,
            round,
            nextSeat: seatPicker(options.contention),
          });
          samples.push(sample);
          const report = await auditBookings(cluster.dbs, mode, sample.outcomes.confirmed);
          audits.push({ mode: mode.name, concurrency, round, report });
          const rate = (sample.outcomes.confirmed + sample.outcomes.rejected) / (sample.durationMs / 1000);
          options.progress(
            `${mode.name.padEnd(10)} c=${String(concurrency).padStart(3)} round ${round}: ${rate.toFixed(0)} bookings/s` +
              ` (${sample.outcomes.confirmed} confirmed, ${sample.outcomes.rejected} rejected, ${sample.outcomes.error} errors)` +
              (report.violations.length > 0
                ? `  AUDIT FAILED: ${report.violations.join('; ')}`
                : '  audit ok') +
              (sample.firstError ? `  first error: ${sample.firstError}` : ''),
          );
          if (report.violations.length > 0) {
            throw new Error(
              `audit failed for ${mode.name} at concurrency ${concurrency}: ${report.violations.join('; ')}`,
            );
          }
        }
      }
    }
    const summaries: LoadSummary[] = [];
    for (const concurrency of options.concurrency) {
      for (const mode of modes) {
        summaries.push(
          summariseSamples(samples.filter((s) => s.mode === mode.name && s.concurrency === concurrency)),
        );
      }
    }
    const { progress: _progress, ...recorded } = options;
    return {
      startedAt,
      options: recorded,
      server: cluster.server,
      modes: modes.map((m) => {
        const log = m.logStatementsPerBooking?.();
        return {
          name: m.name,
          description: m.description,
          ...(log === undefined ? {} : { logStatementsPerBooking: log }),
        };
      }),
      summaries,
      audits,
    };
  } finally {
    for (const mode of modes) await mode.close?.();
    await cluster.close();
  }
}
