import type { Booking } from '../api/types';
import { money, reasonText } from '../format';

/** What happened to the person's booking, announced to screen readers as it changes. */
export type Outcome =
  | { kind: 'booking'; booking: Booking }
  | { kind: 'error'; message: string; canRetry: boolean }
  | undefined;

/**
 * The outcome panel: ticket codes when confirmed, the reason when rejected, the error when the request itself
 * failed (with a retry that reuses the idempotency key, so it cannot book twice).
 */
export function BookingOutcome({ outcome, onRetry }: { outcome: Outcome; onRetry(): void }) {
  return (
    <div aria-live="polite" aria-atomic="true" className="outcome-region">
      {outcome?.kind === 'booking' && <BookingResult booking={outcome.booking} />}
      {outcome?.kind === 'error' && (
        <div className="outcome error" data-testid="outcome" data-status="error">
          <h3>Something went wrong</h3>
          <p>{outcome.message}</p>
          {outcome.canRetry && (
            <button type="button" onClick={onRetry}>
              Try again
            </button>
          )}
        </div>
      )}
    </div>
  );
}

function BookingResult({ booking }: { booking: Booking }) {
  const mode = booking.mode === 'saga' ? 'saga' : 'two-phase commit';
  if (booking.status === 'confirmed' || booking.status === 'cancelled' || booking.status === 'cancelling') {
    return (
      <div className="outcome confirmed" data-testid="outcome" data-status={booking.status}>
        <h3>{booking.status === 'confirmed' ? 'Booked' : 'Cancelled'}</h3>
        <p>
          {booking.seatIds.length} seat{booking.seatIds.length === 1 ? '' : 's'} for{' '}
          {money(booking.amountCents)} by {mode}.
        </p>
        {booking.ticketCodes && booking.status === 'confirmed' && (
          <>
            <p className="muted">Your ticket codes</p>
            <ul className="tickets" aria-label="Ticket codes">
              {booking.ticketCodes.map((code) => (
                <li key={code}>
                  <code>{code}</code>
                </li>
              ))}
            </ul>
          </>
        )}
      </div>
    );
  }
  if (booking.status === 'rejected') {
    return (
      <div
        className="outcome rejected"
        data-testid="outcome"
        data-status="rejected"
        data-reason={booking.reason}
      >
        <h3>Not booked</h3>
        {/* The reason once: in words when it is a known one, else the server's message. */}
        <p className="reason">
          {(booking.reason && reasonText[booking.reason]) ?? booking.message ?? 'The booking was rejected.'}
        </p>
        <p className="muted">
          {booking.mode === 'saga'
            ? 'The saga compensated its finished steps: any payment was refunded and the seats were released.'
            : 'The two-phase commit rolled back in all three databases: nothing was charged, no seat was taken.'}
        </p>
      </div>
    );
  }
  return (
    <div className="outcome pending" data-testid="outcome" data-status="pending">
      <h3>Booking…</h3>
      <p>Reserving your seats, taking the payment and issuing the tickets by {mode}.</p>
    </div>
  );
}
