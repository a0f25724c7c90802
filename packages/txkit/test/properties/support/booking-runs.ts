import type { FaultSpec } from '../../../src/testing/index.js';
import {
  applyBookingStep,
  BOOKING_STEPS,
  type Booking,
  type BookingPart,
  bookingSaga,
  bookingViolations,
  databaseOfStep,
  halfDoneBookings,
  isConfirmed,
  readBooking,
  readBookingPart,
  resetBooking,
  visibleBookings,
} from './booking.js';
import {
  boundViolations,
  type PartitionedSagas,
  partitionReport,
  sagaWorkloadNetwork,
} from './partition-network.js';
import { runSagaWorkload, sagaViolations } from './saga-workload.js';
import { RunStats } from './stats.js';
import { runTwoPhaseWorkload, twoPhaseViolations } from './two-phase-workload.js';
import type { World } from './world.js';

/** One generated booking run (`decisionInLogParticipant` is used by 2PC only). */
export interface BookingCase {
  bookings: Booking[];
  faults: FaultSpec[];
  decisionInLogParticipant: boolean;
}

export const twoPhaseBookingStats = new RunStats('booking 2PC');
export const sagaBookingStats = new RunStats('booking saga');

/** Bookings as 2PC transactions (seat, payment, ticket in one transaction), crashed, recovered, checked. */
export async function runTwoPhaseBooking(world: World, input: BookingCase): Promise<void> {
  await resetBooking(world);
  const run = await runTwoPhaseWorkload<Booking, BookingPart>(world, {
    items: input.bookings,
    faults: input.faults,
    decisionInLogParticipant: input.decisionInLogParticipant,
    read: readBookingPart,
    work: async (tx, b) => {
      for (const step of BOOKING_STEPS) {
        const branch = {
          query: (text: string, values?: unknown[]) => tx.query(databaseOfStep[step], text, values),
        };
        await applyBookingStep(branch, b, step, 'action');
      }
    },
  });
  const final = await readBooking(world);
  const violations = [
    ...bookingViolations(final, input.bookings, 'nothing'),
    ...twoPhaseViolations(
      run,
      input.bookings,
      {
        committed: (id) => isConfirmed(final, id),
        visible: visibleBookings,
        halfDone: (reading) => halfDoneBookings(reading, input.bookings),
      },
      twoPhaseBookingStats,
    ),
  ];
  if (violations.length > 0) {
    throw new Error(
      `${violations.join('\n')}\n${run.plan.describe()}\nended: ${JSON.stringify([...run.ended])}`,
    );
  }
}

/** Bookings as sagas (seat, pay, ticket; barrier-guarded, compensated), crashed, recovered, checked. */
export async function runSagaBooking(
  world: World,
  input: BookingCase,
  partitioned?: PartitionedSagas,
): Promise<void> {
  await resetBooking(world);
  const run = await runSagaWorkload(world, {
    items: input.bookings,
    faults: input.faults,
    definition: bookingSaga(partitioned?.network.app ?? world, partitioned?.policies),
    read: readBookingPart,
    ...(partitioned ? { network: sagaWorkloadNetwork(partitioned) } : {}),
  });
  await partitioned?.network.close();
  const final = await readBooking(world);
  const violations = [
    ...(partitioned ? boundViolations(run, partitioned.boundMs) : []),
    ...bookingViolations(final, input.bookings, 'compensated'),
    ...sagaViolations(run, { halfDone: (r) => halfDoneBookings(r, input.bookings) }, sagaBookingStats),
  ];
  for (const b of input.bookings) {
    const completed = run.status.get(b.id) === 'completed';
    if (completed !== isConfirmed(final, b.id)) {
      violations.push(
        `${b.id}: saga ${run.status.get(b.id)}, seat ${isConfirmed(final, b.id) ? '' : 'not '}held`,
      );
    }
  }
  if (violations.length > 0) {
    throw new Error(
      `${violations.join('\n')}\n${run.plan.describe()}\nreturned: ${JSON.stringify([...run.returned])}` +
        partitionReport(run, partitioned),
    );
  }
}
