import type { BookingMode } from './booking-executor.js';

// In a file of its own, free of server imports, so that the web UI can import the type too.
/** A booking as stored in the seats database (the API sends it without `requestHash`). */
export interface BookingRecord {
  id: string;
  customerId: number;
  idempotencyKey: string;
  requestHash: string;
  screeningId: number;
  seatIds: number[];
  mode: BookingMode;
  amountCents: number;
  status: 'pending' | 'confirmed' | 'rejected' | 'cancelling' | 'cancelled';
  reason: string | null;
  message: string | null;
  ticketCodes: string[] | null;
  createdAt: string;
  updatedAt: string;
}

/** A booking as the API answers it: the record without `requestHash` (the idempotency check's, not the client's). */
export type PublicBooking = Omit<BookingRecord, 'requestHash'>;

/**
 * The one projection of a booking for API answers; every booking route sends its bookings through it.
 *
 * @example
 * res.json({ booking: publicBooking(await service.get(id)) });
 */
export function publicBooking(booking: BookingRecord): PublicBooking {
  const { requestHash: _hash, ...rest } = booking;
  return rest;
}
