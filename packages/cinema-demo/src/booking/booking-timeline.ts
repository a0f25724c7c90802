import type { SagaHistory } from 'txkit';
import type { BookingRecord } from './booking-record.js';

/** One entry of a booking's timeline, as the web UI shows it. */
export interface TimelineEvent {
  at: string;
  kind: 'request' | 'step' | 'compensation' | 'phase';
  name: string;
  status: string;
  detail?: string | null;
}

const KEEP_BOOKINGS = 1000;

/**
 * A booking's timeline from its record alone, when nothing finer is known here: a 2PC booking another process
 * ran (2PC keeps no log of its phases, only of its decision), or a saga whose log was deleted after the retention.
 *
 * @example
 * const events = timelineFromBooking(booking); // received, then confirmed / rejected: reason
 */
export function timelineFromBooking(booking: BookingRecord): TimelineEvent[] {
  const events: TimelineEvent[] = [
    { at: new Date(booking.createdAt).toISOString(), kind: 'request', name: 'booking', status: 'received' },
  ];
  if (booking.status !== 'pending') {
    events.push({
      at: new Date(booking.updatedAt).toISOString(),
      kind: 'request',
      name: 'booking',
      status: booking.reason ? `${booking.status}: ${booking.reason}` : booking.status,
      detail: booking.message,
    });
  }
  return events;
}

/**
 * A booking's timeline as the saga log recorded it, for a booking another process ran: each step and
 * compensation record with the time it was written, then the saga's state. Coarser than the live timeline (no
 * attempts in progress, no retries), but the same from every instance.
 *
 * @example
 * const events = timelineFromSagaLog(await runner.history({ name: 'book-seats', key: bookingId }));
 */
export function timelineFromSagaLog(history: SagaHistory): TimelineEvent[] {
  const events: TimelineEvent[] = history.records.map((r) => ({
    at: r.at.toISOString(),
    kind: r.kind === 'action' ? 'step' : 'compensation',
    name: r.step,
    status: r.status === 'done' ? 'completed' : `failed: ${r.error?.reason ?? r.error?.name ?? 'error'}`,
    detail: r.error?.message ?? null,
  }));
  events.push({
    at: (history.finishedAt ?? history.updatedAt).toISOString(),
    kind: 'step',
    name: history.name,
    status:
      history.reason && history.status !== 'running'
        ? `${history.status}: ${history.reason}`
        : history.status,
  });
  return events;
}

/**
 * What happened to each recent booking in this process: saga steps and compensations, 2PC phases, linked to the
 * booking through the saga's key or the transaction id. Kept in memory for the UI; the logs are the record.
 *
 * @example
 * timeline.link(sagaId, bookingId);
 * timeline.addFor(sagaId, { kind: 'step', name: 'charge-payment', status: 'completed' });
 * timeline.get(bookingId);
 */
export class BookingTimeline {
  readonly #events = new Map<string, TimelineEvent[]>();
  readonly #links = new Map<string, string>();

  /** Says that events of a saga or transaction belong to a booking. */
  link(runId: string, bookingId: string): void {
    this.#links.set(runId, bookingId);
    if (this.#links.size > KEEP_BOOKINGS * 4) this.#links.delete(this.#links.keys().next().value as string);
  }

  add(bookingId: string, event: Omit<TimelineEvent, 'at'>): void {
    let list = this.#events.get(bookingId);
    if (!list) {
      list = [];
      this.#events.set(bookingId, list);
      if (this.#events.size > KEEP_BOOKINGS) this.#events.delete(this.#events.keys().next().value as string);
    }
    list.push({ at: new Date().toISOString(), ...event });
  }

  /** Adds an event of a saga or transaction, if it is linked to a booking. */
  addFor(runId: string, event: Omit<TimelineEvent, 'at'>): void {
    const bookingId = this.#links.get(runId);
    if (bookingId) this.add(bookingId, event);
  }

  get(bookingId: string): TimelineEvent[] {
    return [...(this.#events.get(bookingId) ?? [])];
  }
}
