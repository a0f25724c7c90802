import { type BackgroundService, startBackgroundService } from 'txkit';
import type { Databases } from '../db/databases.js';
import { describeLockHolders, preparedLockHolders } from '../db/lock-holders.js';
import * as seatsSql from '../db/seats-sql.js';
import { rows } from '../db/statement.js';
import { boundedTransaction, isLockTimeout, type WaitLimits } from '../db/wait-limits.js';
import { DeadlineExceededError, withDeadline } from '../deadline.js';
import type { BookingExecutor, BookingMode } from './booking-executor.js';
import { type OutcomeRecorder, recordRejection } from './booking-lifecycle.js';
import type { BookingRecord } from './booking-record.js';
import { planOf } from './outcome.js';
import { settleSagaBooking } from './record-outcome.js';

export interface SweeperOptions {
  dbs: Databases;
  executor: BookingExecutor;
  /** The 2PC time limit: after it, an undecided transaction has been aborted (by its coordinator or recovery). */
  prepareTimeoutMs: number;
  /** Age after which a pending saga booking or a cancellation is taken over (default 60 s). */
  staleAfterMs?: number;
  intervalMs?: number;
  /** Bounds the sweep's own writes (default: a 3 s lock timeout, the configuration's default). */
  limits?: WaitLimits;
  /** How long the pass waits for one booking before it reports it unsettled and moves on (default 15 s). */
  bookingTimeoutMs?: number;
  /** Hears a background pass that failed as a whole (what a pass could not do is in its report instead). */
  onError: (error: unknown) => void;
  /** Hears the report of every background pass. */
  onReport?: (report: SweepReport) => void;
}

/** The independent parts of a pass: a failure in one does not skip the others. */
export type SweepPart = 'saga bookings' | '2pc bookings' | 'cancellations' | 'rate limits';

/** A booking a pass could not settle, and why; the next pass tries again. */
export interface UnsettledBooking {
  bookingId: string;
  mode: BookingMode;
  /** Which part of the pass met it (a cancellation, or a booking of that mode). */
  part: SweepPart;
  reason: string;
}

/** What one pass did: the bookings it settled, those it could not and why, and parts that could not run. */
export interface SweepReport {
  settled: string[];
  unsettled: UnsettledBooking[];
  failedParts: { part: SweepPart; reason: string }[];
}

/** Bookings settled at once per part: a few stuck ones cannot hold up the rest, nor take the whole pool. */
const CONCURRENCY = 4;

/**
 * Finishes bookings whose API process died between claiming the idempotency key and recording the outcome, so a
 * retry never waits forever and no booking stays pending:
 * - saga mode: runs the booking saga with the booking id as its key, which returns the outcome of the saga the
 *   dead process started (txkit's recovery drives it on) or, if it never started, books now; a booking that
 *   recovery compensated gets its rejection reason this way too;
 * - 2PC mode: a pending booking older than twice the prepare timeout is recorded as rejected — only if still
 *   pending, under the lock timeout: a transaction that confirmed it may still be committed by recovery, and
 *   then its lock on the row makes this pass leave the booking for the next one;
 * - a cancellation left `cancelling` is run again (every cancel step is idempotent), under a fresh saga key
 *   when the one before gave up.
 *
 * Nothing in a pass can stall it: every booking has its own deadline, and the work the pass stops waiting for is
 * bounded by itself (lock and statement timeouts, the saga runner's wait) so it cannot pile up; a booking is
 * never handed to the engine again while an earlier pass's work on it is still running.
 *
 * @example
 * const sweeper = startStaleBookingSweeper({ dbs, executor, prepareTimeoutMs: 30_000, onError: log.warn });
 * await sweeper.stop();
 */
export function startStaleBookingSweeper(o: SweeperOptions): BackgroundService {
  const inProgress = new Set<string>();
  return startBackgroundService({
    intervalMs: o.intervalMs ?? 10_000,
    onError: o.onError,
    pass: async () => {
      o.onReport?.(await sweepStaleBookings(o, inProgress));
    },
  });
}

/**
 * One pass of {@link startStaleBookingSweeper} (also prunes old rate-limit windows). Never throws: what it could
 * not do is in the report.
 *
 * @example
 * const { settled, unsettled } = await sweepStaleBookings({ dbs, executor, prepareTimeoutMs: 30_000, onError });
 */
export async function sweepStaleBookings(
  o: Omit<SweeperOptions, 'intervalMs'>,
  inProgress = new Set<string>(),
): Promise<SweepReport> {
  const staleAfterMs = o.staleAfterMs ?? 60_000;
  const sweep: Sweep = {
    o,
    recorder: { seats: o.dbs.seats, limits: o.limits ?? { lockTimeoutMs: 3_000 } },
    deadlineMs: o.bookingTimeoutMs ?? 15_000,
    inProgress,
    report: { settled: [], unsettled: [], failedParts: [] },
  };
  const { seats } = o.dbs;
  await Promise.all([
    runPart(sweep, 'saga bookings', async () => {
      const stale = await rows<BookingRecord>(seats, seatsSql.unfinishedSagaBookings(staleAfterMs, 20));
      await settleEach(sweep, 'saga bookings', stale, async (booking) => {
        await settleSagaBooking(sweep.recorder, o.executor, booking, { waitMs: sweep.deadlineMs });
      });
    }),
    runPart(sweep, '2pc bookings', async () => {
      // Twice the prepare timeout: the coordinator's own limit plus recovery's grace period, with room to spare.
      const stale = await rows<BookingRecord>(
        seats,
        seatsSql.staleBookings('pending', '2pc', 2 * o.prepareTimeoutMs, 100),
      );
      await settleEach(sweep, '2pc bookings', stale, async (booking) => {
        // Changed or not, the booking is settled: not pending any more means someone recorded its outcome.
        await recordRejection(sweep.recorder, booking, {
          reason: 'aborted',
          message: 'the transaction did not complete; nothing was booked',
        });
      });
    }),
    runPart(sweep, 'cancellations', async () => {
      const stale = [
        ...(await rows<BookingRecord>(seats, seatsSql.staleBookings('cancelling', 'saga', staleAfterMs, 20))),
        ...(await rows<BookingRecord>(seats, seatsSql.staleBookings('cancelling', '2pc', staleAfterMs, 20))),
      ];
      await settleEach(sweep, 'cancellations', stale, async (booking) => {
        await o.executor.cancel(booking.mode, planOf(booking), {
          waitMs: sweep.deadlineMs,
          rerunGivenUp: true,
        });
      });
    }),
    runPart(sweep, 'rate limits', async () => {
      // Rate-limit windows are only read for the current minute; keep an hour for people looking at them.
      const before = new Date(Date.now() - 3_600_000);
      await boundedTransaction(seats, sweep.recorder.limits, (client) =>
        rows(client, seatsSql.pruneRateLimits(before)),
      );
    }),
  ]);
  return sweep.report;
}

/** The state of one pass. */
interface Sweep {
  o: Omit<SweeperOptions, 'intervalMs'>;
  recorder: OutcomeRecorder;
  deadlineMs: number;
  /** Bookings whose settling (maybe abandoned by an earlier pass) is still running. */
  inProgress: Set<string>;
  report: SweepReport;
}

async function runPart(sweep: Sweep, part: SweepPart, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    sweep.report.failedParts.push({ part, reason: messageOf(error) });
  }
}

/** Settles the bookings a few at a time, each with its own deadline; records every one in the report. */
async function settleEach(
  sweep: Sweep,
  part: SweepPart,
  bookings: BookingRecord[],
  settle: (booking: BookingRecord) => Promise<void>,
): Promise<void> {
  const queue = [...bookings];
  const worker = async () => {
    for (let booking = queue.shift(); booking; booking = queue.shift()) {
      const unsettled = await settleOne(sweep, booking, settle);
      if (unsettled === undefined) sweep.report.settled.push(booking.id);
      else
        sweep.report.unsettled.push({ bookingId: booking.id, mode: booking.mode, part, reason: unsettled });
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
}

/** Settles one booking within the deadline; returns why it is not settled, or undefined when it is. */
async function settleOne(
  sweep: Sweep,
  booking: BookingRecord,
  settle: (booking: BookingRecord) => Promise<void>,
): Promise<string | undefined> {
  if (sweep.inProgress.has(booking.id)) return 'an earlier pass is still settling it';
  const running = settle(booking);
  sweep.inProgress.add(booking.id);
  // The mark goes when the work ends, not when this pass stops waiting for it.
  const done = () => sweep.inProgress.delete(booking.id);
  running.then(done, done);
  try {
    await withDeadline(running, sweep.deadlineMs, `booking ${booking.id}`);
    return undefined;
  } catch (error) {
    if (error instanceof DeadlineExceededError) return `${error.message}; still running, next pass`;
    if (isLockTimeout(error)) {
      const holders = await preparedLockHolders(sweep.o.dbs.seats, ['cinema.bookings']).catch(() => []);
      return `the booking's row is locked by a transaction still to be resolved (${describeLockHolders(holders)}); next pass`;
    }
    return messageOf(error);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
