import { useState } from 'react';
import { ApiError, api } from '../api/client';
import type { Booking } from '../api/types';
import { money } from '../format';

/** The signed-in customer's bookings for this screening, with cancellation of confirmed ones. */
export function MyBookings(props: { bookings: Booking[]; seatName(id: number): string; onChanged(): void }) {
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<string>();
  const shown = props.bookings.filter((b) => b.status !== 'pending');
  if (shown.length === 0) return null;

  const cancel = async (id: string) => {
    setBusy(id);
    setError(undefined);
    try {
      await api.cancel(id);
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
      <ul>
        {shown.map((b) => (
          <li key={b.id} className={`booking-row ${b.status}`}>
            <span>
              <strong>{b.seatIds.map(props.seatName).join(', ')}</strong>
              <span className="muted small">
                {' '}
                · {money(b.amountCents)} · {b.mode === 'saga' ? 'saga' : '2PC'}
              </span>
            </span>
            <span className={`badge ${b.status}`}>{b.status}</span>
            {b.status === 'confirmed' && (
              <button
                type="button"
                className="small-button"
                disabled={busy === b.id}
                onClick={() => void cancel(b.id)}
                aria-label={`Cancel booking of ${b.seatIds.map(props.seatName).join(', ')}`}
              >
                {busy === b.id ? 'Cancelling…' : 'Cancel'}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
