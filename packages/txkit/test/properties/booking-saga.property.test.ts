import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOKING_DDL, BOOKING_STEPS, bookingsArbitrary } from './support/booking.js';
import { runSagaBooking, sagaBookingStats } from './support/booking-runs.js';
import { sagaFaults } from './support/fault-arbitraries.js';
import { assertProperty, propertyRuns, propertyTimeout } from './support/runs.js';
import { createWorld, type World } from './support/world.js';

// Booking: seat (a), payment (b), ticket (c), for random concurrent bookings of three seats with declined
// payments, refused tickets, and random crashes and failures; recovery after a restart. Invariants: no seat
// sold twice; a confirmed booking has exactly one payment and one ticket; a rejected one has none (2PC) or a
// refunded payment and a voided ticket (saga); no step applied twice; nothing prepared, no saga unfinished;
// for 2PC nothing of an aborted booking is ever visible and a half-done one only during its commit phase.

const runs = propertyRuns(25);
let world: World;

beforeAll(async () => {
  world = await createWorld('property booking saga', BOOKING_DDL);
});
afterAll(async () => {
  console.log(`[stats] saga booking: ${sagaBookingStats}`);
  await world?.drop();
});

describe('booking', () => {
  it(
    'over sagas: no seat sold twice, confirmed = paid + ticketed, rejected = refunded + voided, nothing left',
    async () => {
      await assertProperty(
        'booking saga',
        fc.asyncProperty(
          fc.record({
            bookings: bookingsArbitrary,
            // Every compensation here is safe after its effect (release my seat, refund, void): fail anywhere.
            faults: sagaFaults(BOOKING_STEPS, BOOKING_STEPS),
            decisionInLogParticipant: fc.constant(false),
          }),
          (input) => runSagaBooking(world, input),
        ),
        runs,
      );
      // Measured, not assumed: a saga's intermediate states are visible to readers while it runs (none is left
      // at the end: the invariants check the final state).
      expect(sagaBookingStats.get('mixed readings')).toBeGreaterThan(0);
    },
    propertyTimeout(runs),
  );
});
