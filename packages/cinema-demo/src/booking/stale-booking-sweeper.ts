import { type BackgroundService, startBackgroundService } from 'txkit';
import type { Databases } from '../db/databases.js';
import * as seatsSql from '../db/seats-sql.js';
import { rows } from '../db/statement.js';
import type { BookingEngine } from './booking-engine.js';
import type { BookingRecord } from './booking-record.js';
import { planOf } from './outcome.js';
import { recordRejection, settleSagaBooking } from './record-outcome.js';

export interface SweeperOptions {
  dbs: Databases;
  engine: BookingEngine;
  /** The 2PC time limit: after it, an undecided transaction has been aborted (by its coordinator or recovery). */
  prepareTimeoutMs: number;
  /** Age after which a pending saga booking or a cancellation is taken over (default 60 s). */
  staleAfterMs?: number;
  intervalMs?: number;
  onError: (error: unknown) => void;
}

/**
 * Finishes bookings whose API process died between claiming the idempotency key and recording the outcome, so a
 * retry never waits forever and no booking stays pending:
 * - saga mode: runs the booking saga with the booking id as its key, which returns the outcome of the saga the
 *   dead process started (txkit's recovery drives it on) or, if it never started, books now; a booking that
 *   recovery compensated gets its rejection reason this way too;
 * - 2PC mode: a transaction that confirmed the booking did so in the same atomic commit, so one still pending
 *   after the prepare timeout was aborted, and nothing of it is visible: it is recorded as rejected;
 * - a cancellation left `cancelling` is run again (every cancel step is idempotent).
 *
 * @example
 * const sweeper = startStaleBookingSweeper({ dbs, engine, prepareTimeoutMs: 30_000, onError: log.warn });
 * await sweeper.stop();
 */
export function startStaleBookingSweeper(o: SweeperOptions): BackgroundService {
  return startBackgroundService({
    intervalMs: o.intervalMs ?? 10_000,
    onError: o.onError,
    pass: async () => {
      await sweepStaleBookings(o);
    },
  });
}

/** One pass of {@link startStaleBookingSweeper} (also prunes old rate-limit windows); returns how many bookings it finished. */
export async function sweepStaleBookings(o: Omit<SweeperOptions, 'intervalMs'>): Promise<number> {
  const staleAfterMs = o.staleAfterMs ?? 60_000;
  const recorder = { seats: o.dbs.seats, limits: { lockTimeoutMs: 3_000 } };
  let finished = 0;
  for (const booking of await rows<BookingRecord>(
    o.dbs.seats,
    seatsSql.unfinishedSagaBookings(staleAfterMs, 20),
  )) {
    await settleSagaBooking(recorder, o.engine, booking);
    finished++;
  }
  // Twice the prepare timeout: the coordinator's own limit plus recovery's grace period, with room to spare.
  const aborted = await rows<BookingRecord>(
    o.dbs.seats,
    seatsSql.staleBookings('pending', '2pc', 2 * o.prepareTimeoutMs, 100),
  );
  for (const booking of aborted) {
    await recordRejection(recorder, booking, {
      reason: 'aborted',
      message: 'the transaction did not complete; nothing was booked',
    });
    finished++;
  }
  // Rate-limit windows are only read for the current minute; keep an hour for people looking at them.
  await rows(o.dbs.seats, seatsSql.pruneRateLimits(new Date(Date.now() - 3_600_000)));
  for (const mode of ['saga', '2pc'] as const) {
    for (const booking of await rows<BookingRecord>(
      o.dbs.seats,
      seatsSql.staleBookings('cancelling', mode, staleAfterMs, 20),
    )) {
      await o.engine.cancel(mode, planOf(booking));
      finished++;
    }
  }
  return finished;
}
