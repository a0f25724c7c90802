import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SagaRunner, TwoPhaseCoordinator } from 'txkit';
import { describe, expect, it } from 'vitest';
import type { WaterfallData } from '../src/booking/booking-waterfall.js';
import { WaterfallRecorder } from '../src/observability/waterfall-recorder.js';

// The recorder from the events alone (the runner and the coordinator are event emitters): the shapes the API
// tests cannot provoke on demand — a retried attempt, a saga run whose start another instance logged.
function recorder() {
  const runner = new EventEmitter();
  const coordinator = new EventEmitter();
  const recorded: { bookingId: string; data: WaterfallData }[] = [];
  new WaterfallRecorder({
    runner: runner as unknown as SagaRunner,
    coordinator: coordinator as unknown as TwoPhaseCoordinator,
    sagaNames: { book: 'book-seats', cancel: 'cancel-booking' },
    laneOfStep: { 'reserve-seats': 'seats', 'charge-payment': 'payments' },
    onRecorded: (bookingId, data) => recorded.push({ bookingId, data }),
  });
  return { runner, recorded };
}

const base = { sagaId: 's1', name: 'book-seats' };
const error = { name: 'DatabaseError', message: 'lock timeout', code: '55P03' };

describe('the waterfall recorder', () => {
  it('draws a retried attempt as a failed bar of its own, before the attempt that succeeded', async () => {
    const { runner, recorded } = recorder();
    runner.emit('step:started', { ...base, step: 'reserve-seats', attempt: 1 });
    await sleep(2);
    // The saga's insert commits with its first local step: `saga:started` comes after that step's start.
    runner.emit('saga:started', { ...base, key: 'b-1' });
    runner.emit('step:completed', { ...base, step: 'reserve-seats', attempt: 1 });
    runner.emit('step:started', { ...base, step: 'charge-payment', attempt: 1 });
    await sleep(2);
    runner.emit('step:retrying', { ...base, step: 'charge-payment', attempt: 1, delayMs: 5, error });
    await sleep(5);
    runner.emit('step:started', { ...base, step: 'charge-payment', attempt: 2 });
    await sleep(2);
    runner.emit('step:completed', { ...base, step: 'charge-payment', attempt: 2 });
    runner.emit('saga:completed', base);

    expect(recorded).toHaveLength(1);
    const { bookingId, data } = recorded[0]!;
    expect(bookingId).toBe('b-1');
    expect(data).toMatchObject({ run: 'booking', protocol: 'saga', outcome: 'completed' });
    const charges = data.bars.filter((b) => b.name === 'charge-payment');
    expect(charges).toMatchObject([
      { lane: 'payments', attempt: 1, failed: true, detail: '55P03: lock timeout' },
      { lane: 'payments', attempt: 2, failed: false },
    ]);
    expect(charges[1]!.startMs).toBeGreaterThanOrEqual(charges[0]!.startMs + charges[0]!.durationMs);
    // The run starts with its first event, the first step's start (not with `saga:started`, later).
    const reserve = data.bars.find((b) => b.name === 'reserve-seats');
    expect(reserve).toMatchObject({ lane: 'seats', failed: false });
    expect(reserve!.startMs).toBeLessThan(1);
    expect(reserve!.durationMs).toBeGreaterThanOrEqual(1);
  });

  it("keys a cancellation by its booking, and leaves out a saga whose start it never saw (another instance's)", () => {
    const { runner, recorded } = recorder();
    runner.emit('saga:started', { sagaId: 'c1', name: 'cancel-booking', key: 'cancel:b-2:7a1e' });
    runner.emit('saga:completed', { sagaId: 'c1', name: 'cancel-booking' });
    // Resumed here after a crash elsewhere: events without `saga:started`.
    runner.emit('step:started', { sagaId: 'r1', name: 'book-seats', step: 'charge-payment', attempt: 3 });
    runner.emit('step:completed', { sagaId: 'r1', name: 'book-seats', step: 'charge-payment', attempt: 3 });
    runner.emit('saga:completed', { sagaId: 'r1', name: 'book-seats' });
    expect(recorded.map((r) => [r.bookingId, r.data.run])).toEqual([['b-2', 'cancellation']]);
  });
});
