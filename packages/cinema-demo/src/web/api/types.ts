// Shapes of the demo API's answers, as the server sends them (see src/api/routes in this package). Where the
// server has a plain type for an answer, it is imported from there (type-only: nothing of the server is bundled).
import type { PublicBooking } from '../../booking/booking-record';

export type { BookingMode } from '../../booking/booking-executor';
export type { TimelineEvent } from '../../booking/booking-timeline';
export type { WaterfallBar, WaterfallData } from '../../booking/booking-waterfall';
export type { SagaSummary, TransactionsView, TwoPhaseSummary } from '../../booking/operations-view';

/** One screening in the list, with how many seats are still free. */
export interface ScreeningSummary {
  id: number;
  title: string;
  room: string;
  startsAt: string;
  priceCents: number;
  freeSeats: number;
  totalSeats: number;
}

/** A screening with its room's shape. */
export interface Screening {
  id: number;
  title: string;
  room: string;
  rowCount: number;
  placesPerRow: number;
  startsAt: string;
  priceCents: number;
}

/** What the server says about one seat; never who holds it. */
export type SeatStatus = 'free' | 'sold';

export interface Seat {
  seatId: number;
  row: number;
  place: number;
  status: SeatStatus;
  version: number;
}

export interface CustomerName {
  id: number;
  name: string;
}

export interface Customer extends CustomerName {
  balanceCents: number;
}

export interface Payment {
  bookingId: string;
  amountCents: number;
  status: 'captured' | 'refunded';
  createdAt: string;
  refundedAt: string | null;
}

/** A booking as the API sends it: the server's record without its internal request hash. */
export type Booking = PublicBooking;

/** A seat change pushed by the read model (`snapshot` carries every seat, `seats` only the changed ones). */
export interface SeatsMessage {
  screeningId: number;
  version: number;
  cause?: 'booked' | 'released' | 'cancelled';
  seats: { seatId: number; status: SeatStatus; version: number }[];
}
