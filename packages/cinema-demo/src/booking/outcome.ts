import type { BookingRecord } from './booking-record.js';

/** Why a booking was not made; stable codes the UI and the experiment count. */
export type RejectionReason =
  | 'seat-taken'
  | 'seat-locked'
  | 'insufficient-funds'
  | 'payment-declined'
  | 'ticket-failed'
  | 'aborted';

/** The real outcome of a booking attempt. */
export type BookingResult =
  | {
      status: 'confirmed';
      ticketCodes: string[];
      /** When the confirmation was written (the booking's `updatedAt`), when this call wrote it. */
      confirmedAt?: string;
    }
  | {
      status: 'rejected';
      reason: RejectionReason;
      message: string;
      /** The executor recorded the rejection on the booking itself (a saga's compensation did). */
      recorded?: boolean;
    };

/**
 * A business refusal raised by a participant (seat taken, payment declined, ...). It ends the booking at once:
 * no retry, compensation in saga mode, rollback in 2PC mode.
 *
 * @example
 * throw new BookingRejectedError('payment-declined', 'the card was declined');
 */
export class BookingRejectedError extends Error {
  constructor(
    readonly reason: RejectionReason,
    message: string,
  ) {
    super(message);
    this.name = 'BookingRejectedError';
  }
}

/** Everything the engines need to book: all of it decided by the server, nothing trusted from the client. */
export interface BookingPlan {
  bookingId: string;
  customerId: number;
  screeningId: number;
  seatIds: number[];
  amountCents: number;
}

/** The engine's view of a booking. */
export function planOf(
  b: Pick<BookingRecord, 'id' | 'customerId' | 'screeningId' | 'seatIds' | 'amountCents'>,
): BookingPlan {
  return {
    bookingId: b.id,
    customerId: b.customerId,
    screeningId: b.screeningId,
    seatIds: b.seatIds,
    amountCents: b.amountCents,
  };
}

/** Seat state changes one local transaction made, published to the read model through the outbox. */
export interface SeatChange {
  screeningId: number;
  seatId: number;
  status: 'free' | 'sold';
  version: number;
}
