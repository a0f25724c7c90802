import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, api, newIdempotencyKey } from '../api/client';
import type { Booking, BookingMode, TimelineEvent } from '../api/types';
import type { Outcome } from '../components/booking-outcome';

interface BookingRequest {
  screeningId: number;
  seatIds: number[];
  mode: BookingMode;
}

const POLL_MS = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => new Date().toISOString();

/**
 * One person's booking attempt: sends it with an idempotency key, follows its transaction timeline while the
 * server works (polling the customer's own bookings for the key, then the booking's timeline), and ends with
 * the real outcome. A failed request can be retried with the same key, which cannot book twice.
 *
 * @example
 * const booking = useBooking(onSettled);
 * await booking.book({ screeningId, seatIds, mode: 'saga' });
 */
export function useBooking(onSettled: (booking: Booking | undefined) => void) {
  const [pendingSeats, setPendingSeats] = useState<readonly number[]>([]);
  const [outcome, setOutcome] = useState<Outcome>();
  // The page's own notes (sent, failed) until the server's timeline of the booking arrives, which replaces them.
  const [local, setLocal] = useState<TimelineEvent[]>([]);
  const [server, setServer] = useState<TimelineEvent[]>([]);
  const [mode, setMode] = useState<BookingMode>('saga');
  const last = useRef<{ request: BookingRequest; key: string } | undefined>(undefined);
  const alive = useRef(true);
  // Set on every mount: StrictMode mounts twice in development, and a ref only cleared would stay cleared.
  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  const note = useCallback(
    (e: Omit<TimelineEvent, 'at'>) => setLocal((list) => [...list, { at: now(), ...e }]),
    [],
  );

  const send = useCallback(
    async (request: BookingRequest, key: string) => {
      last.current = { request, key };
      setPendingSeats(request.seatIds);
      setMode(request.mode);
      setOutcome({ kind: 'booking', booking: placeholder(request, key) });
      note({ kind: 'request', name: `book ${request.seatIds.length} seat(s)`, status: 'sent' });
      const follow = { done: false };
      const following = followTimeline(key, follow, setServer);
      let settled: Booking | undefined;
      try {
        let { booking } = await api.book(request, key);
        // 202: the first attempt with this key is still running somewhere; wait for its outcome.
        while (booking.status === 'pending' && alive.current) {
          await sleep(POLL_MS);
          ({ booking } = await api.booking(booking.id));
        }
        settled = booking;
        follow.done = true;
        await following;
        // One last look, so the timeline ends with the server's final entries.
        await api
          .timeline(booking.id)
          .then(({ events }) => setServer(events))
          .catch(() => undefined);
        setOutcome({ kind: 'booking', booking });
        last.current = undefined;
      } catch (error) {
        follow.done = true;
        const e = error instanceof ApiError ? error : new ApiError(0, 'unknown', String(error));
        const retryable = e.status === 0 || e.status >= 500 || e.status === 429;
        const wait = e.retryAfterSeconds ? ` Try again in ${e.retryAfterSeconds}s.` : '';
        note({ kind: 'request', name: 'request failed', status: 'error', detail: e.message });
        setOutcome({ kind: 'error', message: e.message + wait, canRetry: retryable });
      } finally {
        setPendingSeats([]);
        onSettled(settled);
      }
    },
    [note, onSettled],
  );

  const book = useCallback(
    (request: BookingRequest) => {
      setLocal([]);
      setServer([]);
      return send(request, newIdempotencyKey());
    },
    [send],
  );
  const retry = useCallback(() => {
    if (last.current) void send(last.current.request, last.current.key);
  }, [send]);

  const events = server.length > 0 ? server : local;
  return { book, retry, pendingSeats, outcome, events, mode, busy: pendingSeats.length > 0 };
}

function placeholder(request: BookingRequest, key: string): Booking {
  return {
    id: '',
    customerId: 0,
    idempotencyKey: key,
    screeningId: request.screeningId,
    seatIds: request.seatIds,
    mode: request.mode,
    amountCents: 0,
    status: 'pending',
    reason: null,
    message: null,
    ticketCodes: null,
    createdAt: now(),
    updatedAt: now(),
  };
}

/**
 * While the booking request runs, finds its booking by the idempotency key among the customer's own bookings
 * and polls its timeline. Stops quietly when the server has no timeline route.
 */
async function followTimeline(
  key: string,
  follow: { done: boolean },
  show: (events: TimelineEvent[]) => void,
): Promise<void> {
  let bookingId: string | undefined;
  while (!follow.done) {
    await sleep(POLL_MS);
    if (follow.done) return;
    try {
      if (!bookingId) {
        const { bookings } = await api.bookings();
        bookingId = bookings.find((b) => b.idempotencyKey === key)?.id;
        if (!bookingId) continue;
      }
      show((await api.timeline(bookingId)).events);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return;
    }
  }
}
