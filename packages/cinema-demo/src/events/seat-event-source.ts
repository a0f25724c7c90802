import type { SeatsChangedEvent } from './seat-events.js';

/** Handles one delivered seat event; a rejection asks for redelivery. */
export type SeatEventHandler = (event: SeatsChangedEvent) => Promise<void> | void;

/** Where the read model gets seat events from: the in-process bus or RabbitMQ. */
export interface SeatEventSource {
  /** Starts delivering; returns a function that stops. */
  subscribe(handler: SeatEventHandler): Promise<() => Promise<void>>;
}

/** Checks that a delivered payload looks like a seat event (it crossed a broker: do not trust its shape). */
export function isSeatsChangedEvent(value: unknown): value is SeatsChangedEvent {
  const e = value as Partial<SeatsChangedEvent> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    Number.isInteger(e.screeningId) &&
    Number.isInteger(e.version) &&
    Array.isArray(e.seats) &&
    e.seats.every(
      (s) =>
        Number.isInteger(s?.seatId) &&
        Number.isInteger(s?.version) &&
        (s.status === 'free' || s.status === 'sold'),
    )
  );
}
