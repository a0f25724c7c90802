import { describe, expect, it } from 'vitest';
import { declineDecider } from '../src/library/decline-decider.js';
import { classifyMixedStates, type DatabaseSnapshot } from '../src/library/mixed-states.js';

const snapshot = (s: Partial<Record<keyof DatabaseSnapshot, string[]>>): DatabaseSnapshot => ({
  seats: new Set(s.seats),
  captured: new Set(s.captured),
  issued: new Set(s.issued),
  capturedAgain: new Set(s.capturedAgain ?? s.captured),
  seatsAgain: new Set(s.seatsAgain ?? s.seats),
});

describe('inconsistency sampler classification', () => {
  it('sees complete and absent bookings as consistent', () => {
    expect(classifyMixedStates(snapshot({ seats: ['a'], captured: ['a'], issued: ['a'] })).size).toBe(0);
    expect(classifyMixedStates(snapshot({})).size).toBe(0);
  });

  it('classifies a seat without payment, a payment without ticket, and an undo whose refund is pending', () => {
    const mixed = classifyMixedStates(
      snapshot({
        seats: ['s', 'p'],
        captured: ['p', 'r'],
        issued: [],
        capturedAgain: ['p', 'r'],
        seatsAgain: ['s', 'p'],
      }),
    );
    expect(Object.fromEntries(mixed)).toEqual({
      s: 'seat-without-payment',
      p: 'payment-without-ticket',
      r: 'refund-pending',
    });
  });

  it('does not count a booking that progressed between two reads as mixed', () => {
    // Committed (all three at once, as the local baseline does) after the first seats read: it shows up in
    // payments, tickets and the second seats read only.
    const mixed = classifyMixedStates(
      snapshot({ seats: [], captured: ['x'], issued: ['x'], capturedAgain: ['x'], seatsAgain: ['x'] }),
    );
    expect(mixed.size).toBe(0);
  });

  it('counts a ticket whose payment is gone at the later read as a refund pending', () => {
    const mixed = classifyMixedStates(
      snapshot({ seats: ['t'], captured: ['t'], issued: ['t'], capturedAgain: [], seatsAgain: ['t'] }),
    );
    expect(mixed.get('t')).toBe('refund-pending');
  });
});

describe('decline decider', () => {
  it('declines the same requests in every mode, at about the rate asked', () => {
    const a = declineDecider(0.2);
    const b = declineDecider(0.2);
    const picks = Array.from({ length: 10_000 }, (_, n) => a(n));
    expect(picks).toEqual(Array.from({ length: 10_000 }, (_, n) => b(n)));
    const share = picks.filter(Boolean).length / picks.length;
    expect(share).toBeGreaterThan(0.18);
    expect(share).toBeLessThan(0.22);
    expect(Array.from({ length: 1000 }, (_, n) => declineDecider(0)(n)).some(Boolean)).toBe(false);
    expect(() => declineDecider(1.5)).toThrow(/fraction/);
  });
});
