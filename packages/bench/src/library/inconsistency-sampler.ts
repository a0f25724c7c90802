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
 * Samples the three databases in a loop while a cell runs, and tracks every booking it sees in a mixed state.
 * Measures both protocols the same way: it assumes neither that 2PC shows no mixed state nor that a saga does.
 *
 * @example
 * const sampler = startInconsistencySampler(dbs, { singleDatabase: false });
 * await runLoad(...);
 * const report = await sampler.stop();
 */
export function startInconsistencySampler(
  dbs: BenchDatabases,
  options: {
    singleDatabase?: boolean;
    pauseMs?: number;
    /** Reads another schema's tables (the demo's, end to end) instead of the bench workload's. */
    read?: () => Promise<DatabaseSnapshot>;
  } = {},
): { stop(): Promise<InconsistencyReport> } {
  const seen = new Map<string, { state: MixedState; first: number; last: number }>();
  let samples = 0;
  let samplesWithMixed = 0;
  let busyMs = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const snapshot = options.read ? await options.read() : await readSnapshot(dbs, options.singleDatabase);
      const mixed = classifyMixedStates(snapshot);
      const t1 = performance.now();
      samples++;
      busyMs += t1 - t0;
      if (mixed.size > 0) samplesWithMixed++;
      for (const [id, state] of mixed) {
        const entry = seen.get(id);
        if (entry) entry.last = t1;
        else seen.set(id, { state, first: t1, last: t1 });
      }
      await new Promise((resolve) => setTimeout(resolve, options.pauseMs ?? 2));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return summarise(seen, samples, samplesWithMixed, busyMs);
    },
  };
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
