import { useState } from 'react';
import { ApiError, api } from '../api/client';
import type { Booking } from '../api/types';
import { dateTime, money } from '../format';
import { BookingWaterfalls } from './booking-waterfall';

/**
 * The signed-in customer's bookings for this screening: each one's timeline (the waterfall of its transaction,
 * and of its cancellation), cancellation of confirmed ones, and the outcome of the last cancellation.
 */
export function MyBookings(props: { bookings: Booking[]; seatName(id: number): string; onChanged(): void }) {
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<string>();
  const [open, setOpen] = useState<string>();
  const [cancelled, setCancelled] = useState<Booking>();
  const shown = props.bookings.filter((b) => b.status !== 'pending');
  if (shown.length === 0) return null;
  const seatsOf = (b: Booking) => b.seatIds.map(props.seatName).join(', ');

  const cancel = async (id: string) => {
    setBusy(id);
    setError(undefined);
    setCancelled(undefined);
    try {
      setCancelled((await api.cancel(id)).booking);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(undefined);
      props.onChanged();
    }
  };

  return (
    <section className="card my-bookings" aria-labelledby="mine-title">
      <h2 id="mine-title">Your bookings here</h2>
      {error && (
        <p role="alert" className="error-text">
          {error}
        </p>
      )}
      <div aria-live="polite">
        {cancelled && (
          <div className="outcome cancelled" data-testid="cancel-outcome" data-status={cancelled.status}>
            <h3>{cancelled.status === 'cancelled' ? 'Cancelled' : 'Cancelling…'}</h3>
            <p>
              {cancelled.status === 'cancelled'
                ? `Seat${cancelled.seatIds.length === 1 ? '' : 's'} ${seatsOf(cancelled)} released, ${money(cancelled.amountCents)} refunded to your wallet, tickets voided — by ${cancelled.mode === 'saga' ? 'saga' : 'two-phase commit'}.`
                : 'The cancellation is still running; it finishes by itself and this list updates.'}
            </p>
            <BookingWaterfalls
              key={cancelled.id}
              bookingId={cancelled.id}
              mode={cancelled.mode}
              waitFor="cancellation"
            />
          </div>
        )}
      </div>
      <ul>
        {shown.map((b) => (
          <li key={b.id} className={`booking-row ${b.status}`} data-booking-id={b.id}>
            <span>
              <strong>{seatsOf(b)}</strong>
              <span className="muted small">
                {' '}
                · {money(b.amountCents)} · {b.mode === 'saga' ? 'saga' : '2PC'} · {dateTime(b.createdAt)}
              </span>
            </span>
            <span className={`badge ${b.status}`}>{b.status}</span>
            <span className="row-actions">
              <button
                type="button"
                className="small-button"
                aria-expanded={open === b.id}
                onClick={() => setOpen(open === b.id ? undefined : b.id)}
                aria-label={`Timeline of the booking of ${seatsOf(b)}`}
              >
                Timeline
              </button>
              {b.status === 'confirmed' && (
                <button
                  type="button"
                  className="small-button"
                  disabled={busy === b.id}
                  onClick={() => void cancel(b.id)}
                  aria-label={`Cancel booking of ${seatsOf(b)}`}
                >
                  {busy === b.id ? 'Cancelling…' : 'Cancel'}
                </button>
              )}
            </span>
            {open === b.id && (
              <div className="booking-timeline">
                <BookingWaterfalls bookingId={b.id} mode={b.mode} />
              </div>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
