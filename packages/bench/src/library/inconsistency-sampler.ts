import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type pg from 'pg';
import type { BenchDatabases } from './booking-mode.js';
import { classifyMixedStates, type DatabaseSnapshot, type MixedState } from './mixed-states.js';

/** What the concurrent reader saw during one measurement cell. */
export interface InconsistencyReport {
  samples: number;
  /** Mean time one sample (three reads) took: the resolution of the durations below. */
  sampleMs: number;
  /** Samples that showed at least one booking in a mixed state. */
  samplesWithMixed: number;
  /** Distinct bookings seen mixed, by the first class they were seen in. */
  bookingsByState: Record<MixedState, number>;
  /**
   * How long bookings stayed visibly mixed: last sample that saw one minus the first, in ms. A lower bound
   * (a state seen once counts 0); a state shorter than a sample can be missed altogether.
   */
  durationMs: { mean: number; p50: number; p99: number; max: number };
}

/** The `application_name` of the sampler's connections (the CPU meter leaves them out of a mode's cost). */
export const SAMPLER_APPLICATION_NAME = 'bench-inconsistency-sampler';

const reads = {
  seats: 'SELECT booking_id::text AS id FROM seats WHERE booking_id IS NOT NULL',
  captured: "SELECT booking_id::text AS id FROM payments WHERE status = 'captured'",
  issued: "SELECT booking_id::text AS id FROM tickets WHERE status = 'issued'",
};

async function idSet(pool: pg.Pool, sql: string): Promise<Set<string>> {
  const { rows } = await pool.query<{ id: string }>(sql);
  return new Set(rows.map((r) => r.id));
}

/**
 * Reads the three databases one after another: seats, payments, tickets in the order a booking writes them,
 * then payments and seats again (see {@link DatabaseSnapshot} for why: no mixed state is invented from the gap
 * between reads of different servers).
 */
export async function readSnapshot(dbs: BenchDatabases, singleDatabase = false): Promise<DatabaseSnapshot> {
  return {
    seats: await idSet(dbs.seats, reads.seats),
    captured: await idSet(singleDatabase ? dbs.seats : dbs.payments, reads.captured),
    issued: await idSet(singleDatabase ? dbs.seats : dbs.tickets, reads.issued),
    capturedAgain: await idSet(singleDatabase ? dbs.seats : dbs.payments, reads.captured),
    seatsAgain: await idSet(dbs.seats, reads.seats),
  };
}

/**
 * Where a sample reads: the bench workload's tables (`library`; all three in the seats database for the
 * single-database baseline), or one screening of the cinema demo's schema and the rows written after given ids (`demo`).
 * Plain data, because the sampling loop runs in a worker thread.
 */
export type SnapshotSource =
  | { kind: 'library'; singleDatabase: boolean }
  | { kind: 'demo'; screeningId: number; after: { paymentId: string; ticketId: string } };

/** What the sampling worker is started with. */
export interface SamplerWorkerData {
  /** Connection strings of the seats, payments and tickets databases. */
  urls: string[];
  source: SnapshotSource;
  pauseMs: number;
}

/**
 * Samples the three databases in a loop while a cell runs, and tracks every booking it sees in a mixed state.
 * Measures both protocols the same way: it assumes neither that 2PC shows no mixed state nor that a saga does.
 *
 * The loop runs in a worker thread with connections of its own. In the load generator's event loop it would
 * measure itself into the results: turning a sample's rows into sets takes milliseconds of JavaScript, during
 * which the bookings in flight cannot take their next step — and a mode that makes more event-loop turns per
 * booking pays for it more (at concurrency 1 that alone made txkit's 2PC look 20–35 % slower than the
 * hand-written protocol, which it matches with the reader out of the way).
 *
 * @example
 * const sampler = await startInconsistencySampler(cluster.urls, { kind: 'library', singleDatabase: false });
 * await runLoad(...);
 * const report = await sampler.stop();
 */
export async function startInconsistencySampler(
  urls: string[],
  source: SnapshotSource,
  options: { pauseMs?: number } = {},
): Promise<{ stop(): Promise<InconsistencyReport> }> {
  const workerData: SamplerWorkerData = { urls, source, pauseMs: options.pauseMs ?? 2 };
  // The worker's entry is TypeScript like the rest of the bench: it is loaded through tsx's API, because on
  // Node 20 a worker does not inherit the TypeScript loader the main thread runs under.
  const entry = new URL('./inconsistency-sampler-worker.ts', import.meta.url).href;
  const worker = new Worker(
    `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)}))`,
    { eval: true, workerData },
  );
  // Resolves once the worker starts sampling (so a cell's first bookings are observed too); rejects
  // when the worker fails to start.
  await once(worker, 'message');
  let failed: Error | undefined;
  worker.on('error', (error) => {
    failed = error;
  });
  // A worker that ends without its report (killed, out of memory) must not leave stop() waiting forever.
  const exited = once(worker, 'exit').then(([code]) => {
    throw failed ?? new Error(`the inconsistency sampler exited (code ${code}) without its report`);
  });
  exited.catch(() => {});
  return {
    async stop() {
      try {
        if (failed) throw failed;
        worker.postMessage('stop');
        const [report] = (await Promise.race([once(worker, 'message'), exited])) as [InconsistencyReport];
        return report;
      } finally {
        await worker.terminate();
      }
    },
  };
}

/**
 * The sampling loop itself (run by the worker): reads snapshots until `stopped()` says so, pausing `pauseMs`
 * between samples.
 */
export async function sampleUntil(
  read: () => Promise<DatabaseSnapshot>,
  stopped: () => boolean,
  pauseMs: number,
): Promise<InconsistencyReport> {
  const seen = new Map<string, { state: MixedState; first: number; last: number }>();
  let samples = 0;
  let samplesWithMixed = 0;
  let busyMs = 0;
  while (!stopped()) {
    const t0 = performance.now();
    const mixed = classifyMixedStates(await read());
    const t1 = performance.now();
    samples++;
    busyMs += t1 - t0;
    if (mixed.size > 0) samplesWithMixed++;
    for (const [id, state] of mixed) {
      const entry = seen.get(id);
      if (entry) entry.last = t1;
      else seen.set(id, { state, first: t1, last: t1 });
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return summarise(seen, samples, samplesWithMixed, busyMs);
}

function summarise(
  seen: Map<string, { state: MixedState; first: number; last: number }>,
  samples: number,
  samplesWithMixed: number,
  busyMs: number,
): InconsistencyReport {
  const bookingsByState: Record<MixedState, number> = {
    'seat-without-payment': 0,
    'payment-without-ticket': 0,
    'refund-pending': 0,
  };
  const durations: number[] = [];
  for (const entry of seen.values()) {
    bookingsByState[entry.state]++;
    durations.push(entry.last - entry.first);
  }
  durations.sort((a, b) => a - b);
  const at = (q: number) =>
    durations[Math.min(durations.length - 1, Math.ceil(q * durations.length) - 1)] ?? 0;
  return {
    samples,
    sampleMs: samples > 0 ? busyMs / samples : 0,
    samplesWithMixed,
    bookingsByState,
    durationMs: {
      mean: durations.length > 0 ? durations.reduce((a, b) => a + b, 0) / durations.length : 0,
      p50: at(0.5),
      p99: at(0.99),
      max: durations[durations.length - 1] ?? 0,
    },
  };
}
