import { randomUUID } from 'node:crypto';
import { type LatencySummary, summariseLatencies } from '../stats/latency-summary.js';
import type { BookingMode, BookingResult } from './booking-mode.js';
import { type CpuUse, perBooking } from './cpu-meter.js';
import { declineDecider } from './decline-decider.js';
import type { SeatPicker } from './seat-picker.js';

/** What one measurement cell (one mode, one concurrency, one round) produced. */
export interface LoadSample {
  mode: string;
  concurrency: number;
  round: number;
  durationMs: number;
  outcomes: Record<BookingResult | 'error', number>;
  latenciesMs: number[];
  /** CPU the cell used, where it could be measured (see cpu-meter.ts). */
  cpuMs?: CpuUse;
  firstError?: string;
}

/**
 * Drives one mode with `concurrency` closed-loop clients for `durationMs`: each client books, waits for the
 * answer, and books again. Unexpected errors are counted (and the first one kept), not thrown, so one bad
 * booking does not hide the rest of the run; the audit decides whether the run is valid.
 */
export async function runLoad(options: {
  mode: BookingMode;
  concurrency: number;
  durationMs: number;
  round: number;
  seats: SeatPicker;
  /** Fraction of bookings whose payment is declined (default 0). */
  declineRate?: number;
}): Promise<LoadSample> {
  const { mode, concurrency, durationMs, seats } = options;
  const declined = declineDecider(options.declineRate ?? 0);
  let sequence = 0;
  const outcomes = { confirmed: 0, rejected: 0, declined: 0, error: 0 };
  const latenciesMs: number[] = [];
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + durationMs;

  const client = async () => {
    while (performance.now() < deadline) {
      const n = sequence++;
      const request = {
        bookingId: randomUUID(),
        seatId: seats.next(),
        customerId: 1 + (n % 1000),
        amountCents: 1200,
        declinePayment: declined(n),
      };
      const t0 = performance.now();
      try {
        const result = await mode.book(request);
        latenciesMs.push(performance.now() - t0);
        outcomes[result]++;
        if (result === 'confirmed') seats.sold?.(request.seatId);
      } catch (error) {
        outcomes.error++;
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  return {
    mode: mode.name,
    concurrency,
    round: options.round,
    durationMs: performance.now() - started,
    outcomes,
    latenciesMs,
    ...(firstError ? { firstError } : {}),
  };
}

/** A mode's figures at one concurrency, merged over rounds. */
export interface LoadSummary {
  mode: string;
  concurrency: number;
  bookingsPerSecond: number;
  confirmedPerSecond: number;
  outcomes: Record<BookingResult | 'error', number>;
  latency: LatencySummary;
  /** Bookings/s of each round on its own, to pair rounds with a baseline's (see the report's ratio column). */
  rounds: { round: number; bookingsPerSecond: number }[];
  /** CPU milliseconds per booking over the rounds, when every round measured it. */
  cpuPerBooking?: CpuUse;
  firstError?: string;
}

/** Merges the rounds of one mode at one concurrency. */
export function summariseSamples(samples: readonly LoadSample[]): LoadSummary {
  const first = samples[0];
  if (!first) throw new Error('no samples to summarise');
  const outcomes = { confirmed: 0, rejected: 0, declined: 0, error: 0 };
  let seconds = 0;
  for (const s of samples) {
    seconds += s.durationMs / 1000;
    for (const key of Object.keys(outcomes) as (keyof typeof outcomes)[]) outcomes[key] += s.outcomes[key];
  }
  const firstError = samples.find((s) => s.firstError)?.firstError;
  const bookings = sampleBookings({ outcomes });
  const cpu = samples.every((s) => s.cpuMs)
    ? perBooking(
        {
          node: samples.reduce((sum, s) => sum + s.cpuMs!.node, 0),
          postgres: samples.reduce((sum, s) => sum + s.cpuMs!.postgres, 0),
        },
        bookings,
      )
    : undefined;
  return {
    mode: first.mode,
    concurrency: first.concurrency,
    bookingsPerSecond: bookings / seconds,
    confirmedPerSecond: outcomes.confirmed / seconds,
    outcomes,
    latency: summariseLatencies(samples.flatMap((s) => s.latenciesMs)),
    rounds: samples.map((s) => ({
      round: s.round,
      bookingsPerSecond: sampleBookings(s) / (s.durationMs / 1000),
    })),
    ...(cpu ? { cpuPerBooking: cpu } : {}),
    ...(firstError ? { firstError } : {}),
  };
}

// Bookings that got an answer (errors excluded).
function sampleBookings({ outcomes }: Pick<LoadSample, 'outcomes'>): number {
  return outcomes.confirmed + outcomes.rejected + outcomes.declined;
}
