import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { api } from '../api/client';
import type { Booking, BookingMode, Screening, Seat } from '../api/types';
import { BookingOutcome } from '../components/booking-outcome';
import { BookingPanel } from '../components/booking-panel';
import { BookingWaterfalls } from '../components/booking-waterfall';
import { MyBookings } from '../components/my-bookings';
import { SeatLegend } from '../components/seat-legend';
import { type SeatLook, SeatMap } from '../components/seat-map';
import { TransactionTimeline } from '../components/transaction-timeline';
import { money, rowLabel, showTime } from '../format';
import { useLiveSeats } from '../live/use-live-seats';
import { href } from '../router';
import { useSession } from '../session/session-context';
import { useBooking } from '../session/use-booking';

/**
 * A screening's room: the live seat map with its legend, the booking panel (who, which mode, total), the
 * outcome and the transaction timeline of the person's booking, and their bookings for this screening.
 */
export function RoomPage({ screeningId }: { screeningId: number }) {
  const { customer, refresh } = useSession();
  const [data, setData] = useState<{ screening: Screening; seats: Seat[] }>();
  const [loadError, setLoadError] = useState<string>();
  const [selected, setSelected] = useState<readonly number[]>([]);
  const [mode, setMode] = useState<BookingMode>('saga');
  const [mine, setMine] = useState<Booking[]>([]);
  const { states, lastChange } = useLiveSeats(screeningId, data?.seats);

  // The seat map over HTTP: on open, and again after each of this person's bookings or cancellations, so their
  // own result shows even when the live feed is down (versions keep it from overwriting newer live changes).
  const load = useCallback(
    () =>
      api
        .screening(screeningId)
        .then(setData)
        .catch((e: Error) => setLoadError(e.message)),
    [screeningId],
  );
  useEffect(() => {
    void load();
  }, [load]);

  const loadMine = useCallback(async () => {
    if (!customer) return setMine([]);
    const { bookings } = await api.bookings();
    setMine(bookings.filter((b) => b.screeningId === screeningId));
  }, [customer, screeningId]);
  useEffect(() => {
    loadMine().catch(() => setMine([]));
  }, [loadMine]);

  // A settled booking clears the selection; a failed request keeps it, for the retry.
  const onSettled = useCallback(
    (settled?: Booking) => {
      if (settled) setSelected([]);
      void load();
      void refresh().catch(() => undefined);
      void loadMine().catch(() => undefined);
    },
    [load, refresh, loadMine],
  );
  const booking = useBooking(onSettled);

  // A seat someone else just took drops out of this person's selection, and they are told which (their own
  // booking's seats, sold while it runs, are not someone else's).
  const [takenNotice, setTakenNotice] = useState<number[]>([]);
  const ownPending = useRef<readonly number[]>([]);
  ownPending.current = booking.pendingSeats;
  useEffect(() => {
    setSelected((list) => {
      const taken = list.filter(
        (id) => states.get(id)?.status === 'sold' && !ownPending.current.includes(id),
      );
      if (taken.length === 0) return list;
      setTakenNotice(taken);
      return list.filter((id) => !taken.includes(id));
    });
  }, [states]);

  const settledId =
    booking.outcome?.kind === 'booking' && booking.outcome.booking.status !== 'pending'
      ? booking.outcome.booking.id
      : undefined;
  const mySeats = useMemo(
    () => new Set(mine.filter((b) => b.status === 'confirmed').flatMap((b) => b.seatIds)),
    [mine],
  );
  const pending = useMemo(() => new Set(booking.pendingSeats), [booking.pendingSeats]);
  const chosen = useMemo(() => new Set(selected), [selected]);
  const lookOf = useCallback(
    (seat: Seat): SeatLook => {
      const status = states.get(seat.seatId)?.status ?? seat.status;
      if (pending.has(seat.seatId)) return 'pending';
      if (status === 'sold') return mySeats.has(seat.seatId) ? 'mine' : 'booked';
      return chosen.has(seat.seatId) ? 'selected' : 'free';
    },
    [states, pending, mySeats, chosen],
  );
  const toggle = useCallback((seat: Seat) => {
    setTakenNotice([]);
    setSelected((list) =>
      list.includes(seat.seatId) ? list.filter((id) => id !== seat.seatId) : [...list, seat.seatId],
    );
  }, []);

  if (loadError)
    return (
      <main className="page" id="main">
        <p role="alert">{loadError}</p>
        <a href={href({ page: 'screenings' })}>Back to screenings</a>
      </main>
    );
  if (!data)
    return (
      <main className="page" id="main" aria-busy="true">
        <p className="muted">Loading the room…</p>
      </main>
    );

  const { screening, seats } = data;
  const byId = new Map(seats.map((s) => [s.seatId, s]));
  const seatName = (id: number) => {
    const s = byId.get(id);
    return s ? `${rowLabel(s.row)}${s.place}` : `#${id}`;
  };
  const free = seats.filter((s) => (states.get(s.seatId)?.status ?? s.status) === 'free').length;

  return (
    <main className="page room-page" id="main">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <a href={href({ page: 'screenings' })}>Screenings</a> <span aria-hidden="true">›</span>{' '}
        <span aria-current="page">{screening.title}</span>
      </nav>
      <header className="room-header">
        <div>
          <h1>{screening.title}</h1>
          <p className="muted">
            {screening.room} · {showTime(screening.startsAt)} · {money(screening.priceCents)} per seat
          </p>
        </div>
        <p className="seats-left" data-testid="seats-left">
          <strong>{free}</strong> of {seats.length} seats free
        </p>
      </header>
      <div className="room-layout">
        <section className="card map-card" aria-label="Seat map">
          <SeatMap
            title={screening.room}
            rowCount={screening.rowCount}
            placesPerRow={screening.placesPerRow}
            seats={seats}
            lookOf={lookOf}
            onToggle={toggle}
            disabled={booking.busy}
          />
          <SeatLegend />
          <p className="visually-hidden" aria-live="polite">
            {lastChange &&
              `${lastChange.seats.length} seat(s) ${lastChange.cause === 'booked' ? 'just booked' : 'just freed'}`}
          </p>
        </section>
        <aside className="side">
          {takenNotice.length > 0 && (
            <div className="card notice" role="status" data-testid="seat-taken-notice">
              <p>
                {takenNotice.length === 1 ? 'Seat' : 'Seats'} {takenNotice.map(seatName).join(', ')}{' '}
                {takenNotice.length === 1 ? 'was' : 'were'} just booked by someone else and removed from your
                selection.
              </p>
              <button type="button" className="link" onClick={() => setTakenNotice([])}>
                Dismiss
              </button>
            </div>
          )}
          <BookingPanel
            customer={customer}
            selected={selected.map((id) => ({ id, name: seatName(id) }))}
            priceCents={screening.priceCents}
            mode={mode}
            onMode={setMode}
            onUnselect={(id) => setSelected((list) => list.filter((x) => x !== id))}
            busy={booking.busy}
            onBook={() => void booking.book({ screeningId, seatIds: [...selected], mode })}
          />
          <BookingOutcome outcome={booking.outcome} onRetry={booking.retry} />
          {/* While it runs, the events as they come; once settled, the waterfall below, at full width. */}
          {!settledId && <TransactionTimeline events={booking.events} mode={booking.mode} />}
          {customer && <MyBookings bookings={mine} seatName={seatName} onChanged={onSettled} />}
        </aside>
      </div>
      {settledId && (
        <section className="card booking-waterfall" aria-labelledby="waterfall-title">
          <h2 id="waterfall-title">Transaction timeline of your booking</h2>
          <BookingWaterfalls key={settledId} bookingId={settledId} mode={booking.mode} />
        </section>
      )}
    </main>
  );
}
