import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { type BarrierKey, barrier, type RetryPolicy, type SagaRunner, StepRejectedError, saga } from 'txkit';
import type { FaultSettings } from '../config.js';
import type { Databases } from '../db/databases.js';
import { boundedTransaction, type WaitLimits } from '../db/wait-limits.js';
import { enqueueSeatChanges, type SeatEventOutbox } from '../events/seat-events.js';
import { markStepDatabase } from '../observability/step-database.js';
import type { EngineCallOptions } from './booking-executor.js';
import { confirm, finishCancelling, reject } from './booking-lifecycle.js';
import {
  type BookingPlan,
  BookingRejectedError,
  type BookingResult,
  type RejectionReason,
} from './outcome.js';
import { chargePayment, refundPayment } from './payments-participant.js';
import { releaseSeats, reserveSeats } from './seats-participant.js';
import { issueTickets, voidTickets } from './tickets-participant.js';

export interface SagaBookingOptions {
  dbs: Databases;
  outbox: SeatEventOutbox;
  faults: FaultSettings;
  /**
   * Bound every transaction of the payment and ticket steps and compensations (a lock timeout fails the attempt,
   * to be retried): by the pools' connections when they carry them, otherwise per transaction. The local steps'
   * transactions are txkit's, bounded the same way (the runner's own lockTimeoutMs when the pool lacks it).
   */
  limits: WaitLimits;
}

/**
 * Retries of work that must finish — compensations and cancellation steps. A row can be held by a dead instance's
 * prepared transaction until another instance takes it over (its lease, plus the prepare timeout, plus a recovery
 * interval: about a minute with the defaults), so these outlast that by far (about 3 minutes of backoff, plus a
 * lock timeout per attempt) before a saga gives up to an operator.
 */
const untilTakeover: Partial<RetryPolicy> = { maxAttempts: 22, initialDelayMs: 100, maxDelayMs: 10_000 };

/** A business refusal is final: the saga turns to compensation at once instead of retrying. */
function asStepRejection(error: unknown): unknown {
  return error instanceof BookingRejectedError ? new StepRejectedError(error.reason, error.message) : error;
}

/**
 * Runs one participant's write in its own local transaction behind the barrier: the write takes effect at most
 * once per saga step and operation, a compensation of a write that never happened does nothing, and an action
 * arriving after its compensation is refused. The transaction's lock waits (the barrier's insert included) are
 * bounded, so a row held by a leftover prepared transaction fails the attempt instead of stalling it.
 */
async function guarded<T>(
  pool: pg.Pool,
  limits: WaitLimits,
  ctx: BarrierKey,
  op: 'action' | 'compensate',
  write: (client: pg.PoolClient) => Promise<T>,
): Promise<T | undefined> {
  markStepDatabase(pool);
  try {
    return await boundedTransaction(pool, limits, async (client) => {
      const gate = await barrier(client, ctx, op);
      if (!gate.apply) {
        if (gate.why === 'after-compensation') {
          throw new StepRejectedError('aborted', 'the booking was compensated before this step ran');
        }
        return undefined;
      }
      return write(client);
    });
  } catch (error) {
    throw asStepRejection(error);
  }
}

/**
 * The booking saga's definition (built once per set of options; the runner must be given it). The saga log lives
 * in the seats database, so the two steps that write there are *local steps*: they run in a transaction on the
 * log's pool that also writes their log record — the seats with the saga's own insert, the confirmation with the
 * records of the steps before it and the saga's end. Payment and tickets run in their own databases behind the
 * barrier; their records are deferred to the confirmation (a re-run after a crash is a no-op that returns the
 * same output). Four commits per confirmed booking, none of them the log's own.
 */
export function bookSeatsSaga(o: SagaBookingOptions) {
  return saga<BookingPlan>('book-seats')
    .localStep('reserve-seats', {
      run: async (ctx) => {
        try {
          const changes = await reserveSeats(ctx.client, ctx.input);
          await enqueueSeatChanges(o.outbox, ctx.client, changes, 'booked');
        } catch (error) {
          throw asStepRejection(error);
        }
        return null;
      },
      // Runs only when the seats were sold (a failed local step rolled back with its record): the booking is
      // rejected, with the failure's reason, in the same transaction that frees them — its one rejection write.
      compensate: async (ctx) => {
        const changes = await releaseSeats(ctx.client, ctx.input.bookingId);
        await enqueueSeatChanges(o.outbox, ctx.client, changes, 'released');
        await reject(ctx.client, { id: ctx.input.bookingId, mode: 'saga' }, rejectionOf(ctx.failure));
      },
      compensationRetry: untilTakeover,
    })
    .step('charge-payment', {
      run: async (ctx) => {
        await guarded(o.dbs.payments, o.limits, ctx, 'action', (client) =>
          chargePayment(client, ctx.input, o.faults),
        );
        return null;
      },
      compensate: async (ctx) => {
        await guarded(o.dbs.payments, o.limits, ctx, 'compensate', (client) =>
          refundPayment(client, ctx.input.bookingId),
        );
      },
      compensationRetry: untilTakeover,
      deferRecord: true,
    })
    .step('issue-tickets', {
      run: async (ctx) => {
        const codes = await guarded(o.dbs.tickets, o.limits, ctx, 'action', (client) =>
          issueTickets(client, ctx.input, o.faults),
        );
        // A duplicate run (after a crash) finds the codes the first run stored: the same output.
        return codes ?? (await ticketCodes(o.dbs.tickets, ctx.input.bookingId));
      },
      compensate: async (ctx) => {
        await guarded(o.dbs.tickets, o.limits, ctx, 'compensate', (client) =>
          voidTickets(client, ctx.input.bookingId),
        );
      },
      compensationRetry: untilTakeover,
      deferRecord: true,
    })
    .localStep('confirm-booking', {
      run: async (ctx) => {
        // Its output (in the saga's result) lets the answer say when, without reading the booking again.
        return { confirmedAt: await confirm(ctx.client, ctx.input.bookingId, ctx.outputs['issue-tickets']) };
      },
    })
    .build();
}

/**
 * The cancellation saga: forward-only steps, retried until done. As in the booking saga, the two steps on the
 * seats database (the log's) are local steps — the release commits with the saga's insert, the mark with the
 * deferred refund and void records and the saga's end — and the refund and the void run behind the barrier.
 */
export function cancelBookingSaga(o: SagaBookingOptions) {
  return saga<BookingPlan>('cancel-booking')
    .localStep('release-seats', {
      run: async (ctx) => {
        const changes = await releaseSeats(ctx.client, ctx.input.bookingId);
        await enqueueSeatChanges(o.outbox, ctx.client, changes, 'cancelled');
        return null;
      },
    })
    .step('refund-payment', {
      run: async (ctx) => {
        await guarded(o.dbs.payments, o.limits, ctx, 'action', (client) =>
          refundPayment(client, ctx.input.bookingId),
        );
        return null;
      },
      deferRecord: true,
    })
    .step('void-tickets', {
      run: async (ctx) => {
        await guarded(o.dbs.tickets, o.limits, ctx, 'action', (client) =>
          voidTickets(client, ctx.input.bookingId),
        );
        return null;
      },
      deferRecord: true,
    })
    .localStep('mark-cancelled', {
      run: async (ctx) => {
        await finishCancelling(ctx.client, ctx.input.bookingId);
        return null;
      },
    })
    .build();
}

async function ticketCodes(pool: pg.Pool, bookingId: string): Promise<string[]> {
  const { rows: tickets } = await pool.query<{ code: string }>(
    'SELECT code FROM cinema.tickets WHERE booking_id = $1 ORDER BY seat_id',
    [bookingId],
  );
  return tickets.map((t) => t.code);
}

const reasons: readonly RejectionReason[] = [
  'seat-taken',
  'seat-locked',
  'insufficient-funds',
  'payment-declined',
  'ticket-failed',
];

/** A saga failure as the booking's rejection: its stable reason (else `aborted`) and its message. */
function rejectionOf(failure: { reason: string; error: { message: string } }): {
  reason: RejectionReason;
  message: string;
} {
  const reason = (reasons as readonly string[]).includes(failure.reason)
    ? (failure.reason as RejectionReason)
    : 'aborted';
  return { reason, message: failure.error.message };
}

/**
 * Books by saga and turns the saga's typed outcome into the booking's result. The booking id is the saga's
 * idempotency key, so a second run for the same booking returns the first one's outcome.
 *
 * @example
 * const result = await bookBySaga(runner, definition, plan);
 */
export async function bookBySaga(
  runner: SagaRunner,
  definition: ReturnType<typeof bookSeatsSaga>,
  plan: BookingPlan,
  options: EngineCallOptions = {},
): Promise<BookingResult> {
  const outcome = await runner.run(definition, plan, { key: plan.bookingId, waitTimeoutMs: options.waitMs });
  if (outcome.status === 'completed')
    return {
      status: 'confirmed',
      ticketCodes: outcome.result['issue-tickets'],
      confirmedAt: outcome.result['confirm-booking']?.confirmedAt,
    };
  if (outcome.status === 'failed') {
    // Compensation gave up: the saga is in the dead-letter state and shows in the operations view.
    throw new Error(`booking ${plan.bookingId}: compensation of ${outcome.compensation.step} gave up`);
  }
  // A saga that failed after selling the seats was compensated, and the compensation recorded the rejection;
  // one that failed selling them (seat taken) changed nothing: the caller records it.
  return { status: 'rejected', ...rejectionOf(outcome), recorded: outcome.failedStep !== 'reserve-seats' };
}

/**
 * Cancels by saga; throws when the cancellation did not complete (the booking stays `cancelling`, visible to
 * operators, and the stale-booking sweep runs it again). Concurrent cancels of one booking join one saga (its
 * key). With `rerunGivenUp` (the sweep), a saga that gave up (a step out of retries, e.g. behind a dead
 * instance's lock) is run again under a fresh key — every step is idempotent by itself (each is a status
 * change: a seat freed once, a payment refunded once, tickets voided once), so a second run finishes what the
 * first left.
 */
export async function cancelBySaga(
  runner: SagaRunner,
  definition: ReturnType<typeof cancelBookingSaga>,
  plan: BookingPlan,
  options: EngineCallOptions = {},
): Promise<void> {
  const cancel = (key: string) => runner.run(definition, plan, { key, waitTimeoutMs: options.waitMs });
  let outcome = await cancel(`cancel:${plan.bookingId}`);
  if (outcome.status !== 'completed' && options.rerunGivenUp) {
    outcome = await cancel(`cancel:${plan.bookingId}:${randomUUID()}`);
  }
  if (outcome.status !== 'completed') {
    throw new Error(`cancellation of ${plan.bookingId} did not complete: ${outcome.reason}`);
  }
}
