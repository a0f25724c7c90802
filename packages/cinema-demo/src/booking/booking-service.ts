import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Databases } from '../db/databases.js';
import * as seatsSql from '../db/seats-sql.js';
import { rows } from '../db/statement.js';
import type { WaitLimits } from '../db/wait-limits.js';
import { DeadlineExceededError, withDeadline } from '../deadline.js';
import { DomainError } from '../domain-error.js';
import type { BookingExecutor, BookingMode } from './booking-executor.js';
import { admit, type OutcomeRecorder, startCancelling } from './booking-lifecycle.js';
import type { BookingRecord } from './booking-record.js';
import { timelineFromBooking } from './booking-timeline.js';
import type { OperationsView } from './operations-view.js';
import { type BookingResult, planOf } from './outcome.js';
import { isUnexplainedRejection, recordResult, settleSagaBooking } from './record-outcome.js';

/** A validated booking request; the customer comes from the session, the price from the database. */
export interface BookingRequest {
  screeningId: number;
  seatIds: number[];
  mode: BookingMode;
}

export interface BookingServiceOptions {
  dbs: Databases;
  /** Runs the bookings and cancellations. */
  executor: BookingExecutor;
  /** Where each booking's timeline is kept and read. */
  view: OperationsView;
  /** Per-customer limit on new bookings per minute (shared by all instances through the seats database). */
  bookingsPerMinute: number;
  /** How long a retry waits for the first attempt with the same key to finish. */
  replayWaitMs?: number;
  /**
   * How long a request waits for its booking's outcome (default 20 s). A saga whose compensation waits out a
   * dead instance's locks may take minutes; after this the answer is the pending booking (202) and the work goes
   * on, recording its outcome when it ends, for a retry with the same key to find.
   */
  answerWithinMs?: number;
  /** Bounds the lock waits of recording an outcome (default: 3 s, the configuration's default). */
  limits?: WaitLimits;
  onOutcome?: (mode: BookingMode, outcome: string, seconds: number) => void;
  /** A booking whose engine failed unexpectedly (it stays pending). */
  onError?: (error: unknown, bookingId: string) => void;
}

function requestHash(request: BookingRequest): string {
  const canonical = JSON.stringify({
    screeningId: request.screeningId,
    seatIds: [...request.seatIds].sort((a, b) => a - b),
    mode: request.mode,
  });
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * Books and cancels for a signed-in customer: validates the request against the database, computes the price,
 * claims the idempotency key, runs the chosen engine and records its real outcome on the booking.
 *
 * @example
 * const { booking, replayed } = await service.book(customerId, { screeningId: 1, seatIds: [5], mode: 'saga' }, key);
 */
export class BookingService {
  readonly #o: BookingServiceOptions;
  readonly #recorder: OutcomeRecorder;

  constructor(options: BookingServiceOptions) {
    this.#o = options;
    this.#recorder = { seats: options.dbs.seats, limits: options.limits ?? { lockTimeoutMs: 3_000 } };
  }

  async book(
    customerId: number,
    request: BookingRequest,
    idempotencyKey: string,
  ): Promise<{ booking: BookingRecord; replayed: boolean }> {
    const hash = requestHash(request);
    const request_ = {
      id: randomUUID(),
      customerId,
      idempotencyKey,
      requestHash: hash,
      screeningId: request.screeningId,
      seatIds: [...request.seatIds].sort((a, b) => a - b),
      mode: request.mode,
    };
    // One statement: the key looked up, the request checked, the rate-limit hit counted and the key claimed by a
    // committed `pending` row before any work starts — a concurrent retry with the same key finds it and waits
    // for this attempt's outcome instead of booking a second time. The price is the screening's, times the seats,
    // computed by the database: never taken from the client.
    const admission = await admit(this.#o.dbs.seats, request_, {
      key: `bookings:${customerId}`,
      max: this.#o.bookingsPerMinute,
      windowMs: 60_000,
      what: 'bookings per minute',
    });
    if (admission.kind !== 'claimed') {
      const earlier =
        admission.kind === 'existing'
          ? await this.get(admission.bookingId)
          : await this.#byKey(customerId, idempotencyKey);
      if (!earlier) throw new Error('idempotency key vanished');
      return { booking: await this.#replay(earlier, hash), replayed: true };
    }
    const booking = { ...request_, amountCents: admission.amountCents };
    const outcome = this.#execute(booking, request.mode);
    let result: BookingResult | undefined;
    try {
      result = await withDeadline(outcome, this.#o.answerWithinMs ?? 20_000, `booking ${booking.id}`);
    } catch (error) {
      if (!(error instanceof DeadlineExceededError)) throw error;
      // Still running (a compensation waiting out a lock, say): answered pending, recorded when it ends.
    }
    // A confirmation this request wrote is answered from what it wrote, without reading the row back: it is the
    // row as of that write (a cancellation could move it on afterwards, as it could right after a read).
    // Anything else is read.
    if (result?.status === 'confirmed' && result.confirmedAt) {
      const confirmed: BookingRecord = {
        ...booking,
        status: 'confirmed',
        reason: null,
        message: null,
        ticketCodes: result.ticketCodes,
        createdAt: admission.createdAt.toISOString(),
        updatedAt: result.confirmedAt,
      };
      return { booking: confirmed, replayed: false };
    }
    return { booking: await this.get(booking.id), replayed: false };
  }

  /**
   * Runs the engine for a claimed booking and records its outcome; never rejects (failures go to `onError`, and
   * the result is undefined).
   */
  async #execute(booking: seatsSql.NewBooking, mode: BookingMode): Promise<BookingResult | undefined> {
    const started = performance.now();
    const plan = planOf(booking);
    this.#o.view.note(booking.id, { kind: 'request', name: 'booking requested', status: mode });
    let result: BookingResult;
    try {
      const { executor } = this.#o;
      result = mode === 'saga' ? await executor.bookBySaga(plan) : await executor.bookByTwoPhase(plan);
      // The executor recorded a confirmation, and a saga's compensation its rejection (see BookingExecutor);
      // what it left (a 2PC rejection, a saga refused before it sold the seats) is recorded here.
      await recordResult(this.#recorder, booking, result);
    } catch (error) {
      // Not a business refusal: a database or broker failure, or a saga whose compensation gave up. The outcome
      // is not known yet; the booking stays pending (the answer is a 202 with its id) until txkit's recovery
      // and the stale-booking sweep settle it.
      this.#o.onError?.(error, booking.id);
      return undefined;
    }
    this.#o.view.note(booking.id, {
      kind: 'request',
      name: 'outcome',
      status: result.status,
      detail: result.status === 'rejected' ? `${result.reason}: ${result.message}` : null,
    });
    this.#o.onOutcome?.(
      mode,
      result.status === 'confirmed' ? 'confirmed' : result.reason,
      (performance.now() - started) / 1000,
    );
    return result;
  }

  async get(id: string): Promise<BookingRecord> {
    const [booking] = await rows<BookingRecord>(this.#o.dbs.seats, seatsSql.getBooking(id));
    if (!booking) throw new DomainError('booking-not-found', `booking ${id} does not exist`);
    return booking;
  }

  /** A customer's own booking; someone else's is reported as not found, so ids do not leak. */
  async getOwn(customerId: number, id: string): Promise<BookingRecord> {
    const booking = await this.get(id).catch(() => undefined);
    if (!booking || booking.customerId !== customerId) {
      throw new DomainError('booking-not-found', `booking ${id} does not exist`);
    }
    return booking;
  }

  /** The timeline of a customer's own booking: live or from the saga log, else from the booking's record. */
  async timelineOwn(customerId: number, id: string) {
    const booking = await this.getOwn(customerId, id);
    const events = await this.#o.view.timeline(booking);
    return events.length > 0 ? events : timelineFromBooking(booking);
  }

  async listOwn(customerId: number, limit = 50): Promise<BookingRecord[]> {
    return rows<BookingRecord>(this.#o.dbs.seats, seatsSql.listCustomerBookings(customerId, limit));
  }

  /**
   * Cancels a customer's confirmed booking in its own mode. Cancelling a booking that is already being
   * cancelled — a concurrent request, or a retry — joins that cancellation (every cancel is idempotent), and a
   * cancelled booking is answered again: every caller gets the winner's answer.
   */
  async cancel(customerId: number, id: string): Promise<BookingRecord> {
    const booking = await this.getOwn(customerId, id);
    if (booking.status === 'cancelled') return booking;
    // Only one cancellation runs per booking: the confirmed -> cancelling transition is the claim.
    const claimed = await startCancelling(this.#o.dbs.seats, id);
    // Lost the claim: the status read above may predate the winner's claim, so judge by the status now.
    const current = claimed ? booking : await this.get(id);
    if (current.status === 'cancelled') return current;
    if (!claimed && current.status !== 'cancelling') {
      throw new DomainError(
        'not-cancellable',
        `booking ${id} is ${current.status}; only confirmed ones cancel`,
      );
    }
    this.#o.view.note(id, { kind: 'request', name: 'cancellation requested', status: booking.mode });
    await this.#o.executor.cancel(booking.mode, planOf(booking));
    return this.get(id);
  }

  async #byKey(customerId: number, key: string): Promise<BookingRecord | undefined> {
    const [booking] = await rows<BookingRecord>(
      this.#o.dbs.seats,
      seatsSql.findBookingByKey(customerId, key),
    );
    return booking;
  }

  /**
   * Answers a retry with the first attempt's outcome, waiting while that attempt is still running. A saga
   * booking that its compensation marked rejected has no reason yet (the compensation cannot know it; the
   * first attempt records it — unless its process died): the reason is taken from the saga log, so a retry
   * never answers a rejection without one.
   */
  async #replay(booking: BookingRecord, hash: string): Promise<BookingRecord> {
    if (booking.requestHash !== hash) {
      throw new DomainError(
        'idempotency-key-reused',
        'this Idempotency-Key was used for a different booking request',
      );
    }
    const deadline = Date.now() + (this.#o.replayWaitMs ?? 30_000);
    let current = booking;
    while (current.status === 'pending' && Date.now() < deadline) {
      await sleep(50);
      current = await this.get(booking.id);
    }
    if (isUnexplainedRejection(current)) {
      await settleSagaBooking(this.#recorder, this.#o.executor, current, {
        waitMs: Math.max(1, deadline - Date.now()),
      });
      current = await this.get(booking.id);
    }
    return current;
  }
}
