import { expect, it } from 'vitest';
import { SeatStateStore } from '../src/read-model/seat-state-store.js';

it('applies newer seat versions and ignores stale or repeated ones, per seat', () => {
  const store = new SeatStateStore();
  store.apply({
    screeningId: 1,
    version: 0,
    cause: 'booked',
    seats: [{ seatId: 1, status: 'free', version: 0 }],
  });
  const sold = {
    screeningId: 1,
    version: 7,
    cause: 'booked' as const,
    seats: [{ seatId: 1, status: 'sold' as const, version: 7 }],
  };
  const freed = {
    screeningId: 1,
    version: 9,
    cause: 'released' as const,
    seats: [{ seatId: 1, status: 'free' as const, version: 9 }],
  };

  expect(store.apply(freed)).toEqual(freed);
  // The older "sold" arrives late (broker reordering): it must not overwrite the newer "free".
  expect(store.apply(sold)).toBeUndefined();
  expect(store.apply(freed)).toBeUndefined();
  expect(store.snapshot(1)).toEqual({
    screeningId: 1,
    version: 9,
    seats: [{ seatId: 1, status: 'free', version: 9 }],
  });
});

it('keeps the news of a mixed event and the screening version is the highest seen', () => {
  const store = new SeatStateStore();
  store.apply({
    screeningId: 2,
    version: 5,
    cause: 'booked',
    seats: [{ seatId: 1, status: 'sold', version: 5 }],
  });
  const applied = store.apply({
    screeningId: 2,
    version: 6,
    cause: 'cancelled',
    seats: [
      { seatId: 1, status: 'free', version: 4 },
      { seatId: 2, status: 'sold', version: 6 },
    ],
  });
  expect(applied?.seats).toEqual([{ seatId: 2, status: 'sold', version: 6 }]);
  expect(store.snapshot(2).version).toBe(6);
  expect(store.snapshot(2).seats.find((s) => s.seatId === 1)?.status).toBe('sold');
});
