import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type FaultProxy, startFaultProxy } from '../../src/testing/index.js';
import { BOOKING_DDL, BOOKING_STEPS, bookingsArbitrary } from './support/booking.js';
import { runSagaBooking, sagaBookingStats } from './support/booking-runs.js';
import { sagaFaults } from './support/fault-arbitraries.js';
import { partitionedSagas, sagaPartitions } from './support/partition-sagas.js';
import { assertProperty, propertyRuns, propertyTimeout } from './support/runs.js';
import { createWorld, DATABASES, type World } from './support/world.js';

// Booking over sagas (seat on a, payment on b, ticket on c) through a network that fails: the runner's log and
// the steps' databases behind a fault proxy that cuts, blackholes, slows or cuts mid-stream one of them, at
// random moments and at saga points, sometimes with a process crash on top; after healing a runner under a
// new id recovers. Invariants: no seat sold twice; completed = seat held + one charged payment + one issued
// ticket, as run() answered; rejected = refunded and voided; no step twice; no saga left; every run() within
// its documented bound and ending in an outcome or a documented error.

const runs = propertyRuns(8);
let world: World;
let proxy: FaultProxy;

beforeAll(async () => {
  world = await createWorld('property partitions booking saga', BOOKING_DDL);
  proxy = await startFaultProxy({
    upstreams: Object.fromEntries(DATABASES.map((name) => [name, world.dbs.on(name).connectionString])),
  });
});
afterAll(async () => {
  console.log(`[stats] saga booking through partitions: ${sagaBookingStats}`);
  await proxy?.close();
  await world?.drop();
});

function bookingSagaThroughPartitions() {
  return fc.asyncProperty(
    fc.record({
      bookings: bookingsArbitrary,
      partitions: sagaPartitions(BOOKING_STEPS),
      // Every compensation here is safe after its effect (release my seat, refund, void): fail anywhere.
      faults: fc.option(sagaFaults(BOOKING_STEPS, BOOKING_STEPS), { freq: 3 }).map((f) => f ?? []),
      decisionInLogParticipant: fc.constant(false),
    }),
    (input) =>
      runSagaBooking(world, input, partitionedSagas(world, proxy, input.partitions, BOOKING_STEPS.length)),
  );
}

describe('booking over sagas through network partitions', () => {
  it(
    'no seat sold twice, completed = paid + ticketed as answered, nothing left, every run bounded and typed',
    async () => {
      await assertProperty('booking saga partitions', bookingSagaThroughPartitions(), runs);
    },
    propertyTimeout(runs, 40_000),
  );
});
