import type { SagaRunner } from 'txkit';
import type { BookingTimeline } from './booking-timeline.js';
import type { SagaSummary } from './operations-view.js';

const KEEP = 200;

/**
 * The booking a saga works for, from its key: a booking saga's key is the booking id, a cancellation's
 * `cancel:<bookingId>` (`cancel:<bookingId>:<uuid>` when re-run).
 *
 * @example
 * bookingOfKey('cancel:7f0c…'); // { type: 'cancellation', bookingId: '7f0c…' }
 */
export function bookingOfKey(
  key: string | null,
): { type: 'booking' | 'cancellation'; bookingId: string } | undefined {
  if (!key) return undefined;
  if (key.startsWith('cancel:')) return { type: 'cancellation', bookingId: key.split(':')[1] ?? '' };
  return { type: 'booking', bookingId: key };
}

/**
 * Keeps the recent sagas of this process with each step's and compensation's state, from the runner's events.
 *
 * @example
 * const monitor = new SagaMonitor(runner);
 * monitor.recent(20); // [{ id, name, status, steps: [{ name: 'reserve-seats', status: 'completed' }, ...] }]
 */
export class SagaMonitor {
  readonly #recent = new Map<string, SagaSummary>();

  readonly #timeline: BookingTimeline | undefined;

  constructor(runner: SagaRunner, timeline?: BookingTimeline) {
    this.#timeline = timeline;
    runner.on('saga:started', (e) => {
      // The booking sagas are keyed by the booking id (cancellations by 'cancel:<id>', or 'cancel:<id>:<uuid>').
      const booking = bookingOfKey(e.key);
      if (booking) timeline?.link(e.sagaId, booking.bookingId);
      this.#saga(e.sagaId, e.name, 'running');
      if (booking)
        Object.assign(this.#entry(e.sagaId, e.name), { type: booking.type, bookingId: booking.bookingId });
    });
    runner.on('saga:resumed', (e) => this.#saga(e.sagaId, e.name, `resumed (${e.status})`));
    runner.on('step:started', (e) => this.#step(e.sagaId, e.name, e.step, 'running'));
    runner.on('step:completed', (e) => this.#step(e.sagaId, e.name, e.step, 'completed'));
    runner.on('step:retrying', (e) => this.#step(e.sagaId, e.name, e.step, 'retrying', e.error.message));
    runner.on('step:failed', (e) =>
      this.#step(e.sagaId, e.name, e.step, `failed: ${e.reason}`, e.error.message),
    );
    runner.on('saga:compensating', (e) => this.#saga(e.sagaId, e.name, 'compensating'));
    runner.on('compensation:started', (e) => this.#step(e.sagaId, e.name, `${e.step} (undo)`, 'running'));
    runner.on('compensation:completed', (e) => this.#step(e.sagaId, e.name, `${e.step} (undo)`, 'completed'));
    runner.on('compensation:retrying', (e) =>
      this.#step(e.sagaId, e.name, `${e.step} (undo)`, 'retrying', e.error.message),
    );
    runner.on('saga:completed', (e) => this.#saga(e.sagaId, e.name, 'completed'));
    runner.on('saga:compensated', (e) => this.#saga(e.sagaId, e.name, `compensated: ${e.reason}`));
    runner.on('saga:failed', (e) => this.#saga(e.sagaId, e.name, 'failed (compensation gave up)'));
    runner.on('saga:lease-lost', (e) => this.#saga(e.sagaId, e.name, 'lease lost'));
  }

  /** Most recent first. */
  recent(limit: number): SagaSummary[] {
    return [...this.#recent.values()].reverse().slice(0, limit);
  }

  #entry(id: string, name: string): SagaSummary {
    let entry = this.#recent.get(id);
    if (!entry) {
      const now = new Date().toISOString();
      entry = { id, name, status: 'running', startedAt: now, updatedAt: now, steps: [] };
      this.#recent.set(id, entry);
      if (this.#recent.size > KEEP) this.#recent.delete(this.#recent.keys().next().value as string);
    }
    entry.updatedAt = new Date().toISOString();
    return entry;
  }

  #saga(id: string, name: string, status: string): void {
    this.#entry(id, name).status = status;
    this.#timeline?.addFor(id, { kind: 'step', name, status });
  }

  #step(id: string, name: string, step: string, status: string, error?: string): void {
    const entry = this.#entry(id, name);
    const kind = step.endsWith('(undo)') ? 'compensation' : 'step';
    this.#timeline?.addFor(id, { kind, name: step.replace(' (undo)', ''), status, detail: error ?? null });
    const existing = entry.steps.find((s) => s.name === step);
    if (existing) {
      existing.status = status;
      existing.error = error ?? null;
    } else entry.steps.push({ name: step, status, error: error ?? null });
  }
}
