import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { BOOKING_DDL, bookingsArbitrary } from './support/booking.js';
import { runTwoPhaseBooking, twoPhaseBookingStats } from './support/booking-runs.js';
import { twoPhaseFaults } from './support/fault-arbitraries.js';
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
  world = await createWorld('property booking 2pc', BOOKING_DDL);
});
afterAll(async () => {
  console.log(`[stats] 2PC booking: ${twoPhaseBookingStats}`);
  await world?.drop();
});

describe('booking', () => {
  it(
    'over 2PC: no seat sold twice, confirmed = paid + ticketed, rejected = nothing, nothing left',
    async () => {
      await assertProperty(
        'booking 2PC',
        fc.asyncProperty(
          fc.record({
            bookings: bookingsArbitrary,
            faults: twoPhaseFaults(),
            decisionInLogParticipant: fc.boolean(),
          }),
          (input) => runTwoPhaseBooking(world, input),
        ),
        runs,
      );
    },
    propertyTimeout(runs),
  );
});
