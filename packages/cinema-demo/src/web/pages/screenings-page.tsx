import { useEffect, useState } from 'react';
import { api } from '../api/client';
import type { ScreeningSummary } from '../api/types';
import { money, showTime } from '../format';
import { href } from '../router';

/** Every screening with its movie, room, time, price and how many seats are left. */
export function ScreeningsPage() {
  const [screenings, setScreenings] = useState<ScreeningSummary[]>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    let stop = false;
    const load = () =>
      api
        .screenings()
        .then((r) => {
          if (stop) return;
          setScreenings(r.screenings);
          setError(undefined);
        })
        .catch((e: Error) => !stop && setError(e.message));
    void load();
    // Seats left change as people book; a light refresh keeps the list honest without a socket per card.
    const timer = setInterval(load, 10_000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, []);

  return (
    <main className="page" id="main">
      <h1>Screenings</h1>
      <p className="muted lead">
        Pick a screening, choose your seats and book them by saga or by two-phase commit across three
        databases.
      </p>
      {error && <p role="alert">{error}</p>}
      {!screenings && !error && <p className="muted">Loading…</p>}
      {screenings && (
        <ul className="screenings" aria-label="Screenings">
          {screenings.map((s) => {
            const left = s.freeSeats / Math.max(1, s.totalSeats);
            return (
              <li key={s.id}>
                <a className="card screening" href={href({ page: 'room', screeningId: s.id })}>
                  <span className="screening-title">{s.title}</span>
                  <span className="screening-meta">
                    <span>{showTime(s.startsAt)}</span>
                    <span>{s.room}</span>
                    <span>{money(s.priceCents)}</span>
                  </span>
                  <span className="fill" aria-hidden="true">
                    <span style={{ width: `${Math.round((1 - left) * 100)}%` }} />
                  </span>
                  <span className={`seats-left ${s.freeSeats === 0 ? 'sold-out' : ''}`}>
                    {s.freeSeats === 0 ? 'Sold out' : `${s.freeSeats} of ${s.totalSeats} seats left`}
                  </span>
                </a>
              </li>
            );
          })}
        </ul>
      )}
    </main>
  );
}
