import { randomUUID } from 'node:crypto';
import { type LatencySummary, summariseLatencies } from '../stats/latency-summary.js';
import type { BookingMode, BookingResult } from './booking-mode.js';
import type { SeatPicker } from './seat-picker.js';

/** What one measurement cell (one mode, one concurrency, one round) produced. */
export interface LoadSample {
  mode: string;
  concurrency: number;
  round: number;
  durationMs: number;
  outcomes: Record<BookingResult | 'error', number>;
  latenciesMs: number[];
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
  nextSeat: SeatPicker;
}): Promise<LoadSample> {
  const { mode, concurrency, durationMs } = options;
  const outcomes = { confirmed: 0, rejected: 0, error: 0 };
  const latenciesMs: number[] = [];
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + durationMs;

  const client = async () => {
    while (performance.now() < deadline) {
      const request = {
        bookingId: randomUUID(),
        seatId: options.nextSeat(),
        customerId: 1 + Math.floor(Math.random() * 1000),
        amountCents: 1200,
      };
      const t0 = performance.now();
      try {
        outcomes[await mode.book(request)]++;
        latenciesMs.push(performance.now() - t0);
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
  firstError?: string;
}

/** Merges the rounds of one mode at one concurrency. */
export function summariseSamples(samples: readonly LoadSample[]): LoadSummary {
  const first = samples[0];
  if (!first) throw new Error('no samples to summarise');
  const outcomes = { confirmed: 0, rejected: 0, error: 0 };
  let seconds = 0;
  for (const s of samples) {
    seconds += s.durationMs / 1000;
    outcomes.confirmed += s.outcomes.confirmed;
    outcomes.rejected += s.outcomes.rejected;
    outcomes.error += s.outcomes.error;
  }
  const firstError = samples.find((s) => s.firstError)?.firstError;
  return {
    mode: first.mode,
    concurrency: first.concurrency,
    bookingsPerSecond: (outcomes.confirmed + outcomes.rejected) / seconds,
    confirmedPerSecond: outcomes.confirmed / seconds,
    outcomes,
    latency: summariseLatencies(samples.flatMap((s) => s.latenciesMs)),
    ...(firstError ? { firstError } : {}),
  };
}
