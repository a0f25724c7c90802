import { useCallback, useEffect, useState } from 'react';
import type { Seat, SeatStatus, SeatsMessage } from '../api/types';
import { seatSocket } from './seat-socket';

/** Latest known status and version of each seat, by seat id. */
export type SeatStates = ReadonlyMap<number, { status: SeatStatus; version: number }>;

/**
 * Merges seat changes into the known states: a change wins only when its version is newer, so a late or
 * repeated message (or the REST load racing the socket snapshot) never rolls a seat back.
 */
export function mergeSeats(
  current: SeatStates,
  incoming: readonly SeatsMessage['seats'][number][],
): SeatStates {
  let next: Map<number, { status: SeatStatus; version: number }> | undefined;
  for (const seat of incoming) {
    const known = (next ?? current).get(seat.seatId);
    if (known && known.version >= seat.version) continue;
    next ??= new Map(current);
    next.set(seat.seatId, { status: seat.status, version: seat.version });
  }
  return next ?? current;
}

/**
 * Seat states of one screening, kept live: starts from the seat map loaded over HTTP, then follows the read
 * model's `snapshot` and `seats` messages (re-sending `watch` after every reconnect).
 *
 * @example
 * const { states, lastChange } = useLiveSeats(screeningId, seatsFromApi);
 */
export function useLiveSeats(screeningId: number, initial: readonly Seat[] | undefined) {
  const [states, setStates] = useState<SeatStates>(new Map());
  const [lastChange, setLastChange] = useState<SeatsMessage | undefined>();

  const apply = useCallback(
    (seats: readonly SeatsMessage['seats'][number][]) => setStates((s) => mergeSeats(s, seats)),
    [],
  );

  useEffect(() => {
    if (initial) apply(initial);
  }, [initial, apply]);

  useEffect(() => {
    const socket = seatSocket();
    const watch = () => socket.emit('watch', screeningId);
    const onSnapshot = (m: SeatsMessage) => {
      if (m.screeningId === screeningId) apply(m.seats);
    };
    const onSeats = (m: SeatsMessage) => {
      if (m.screeningId !== screeningId) return;
      apply(m.seats);
      setLastChange(m);
    };
    socket.on('connect', watch);
    socket.on('snapshot', onSnapshot);
    socket.on('seats', onSeats);
    if (socket.connected) watch();
    return () => {
      socket.off('connect', watch);
      socket.off('snapshot', onSnapshot);
      socket.off('seats', onSeats);
    };
  }, [screeningId, apply]);

  return { states, lastChange };
}
