import { afterAll, beforeAll, expect, it } from 'vitest';
import { seedDatabases } from '../src/db/seed.js';
import { type DemoHarness, startHarness } from './support/demo-harness.js';

let h: DemoHarness;

beforeAll(async () => {
  h = await startHarness('seed');
});
afterAll(() => h?.close());

async function screenings() {
  const { rows } = await h.dbs.seats.query<{ id: number; upcoming: boolean; seats: number }>(
    `SELECT sc.id, sc.starts_at > now() AS upcoming,
            (SELECT count(*)::int FROM cinema.screening_seats ss WHERE ss.screening_id = sc.id) AS seats
       FROM cinema.screenings sc ORDER BY sc.id`,
  );
  return rows;
}

it('schedules the programme from the next full hour, and again only once none is left to come', async () => {
  const first = await screenings();
  expect(first).toHaveLength(6);
  expect(first.every((s) => s.upcoming && s.seats > 0)).toBe(true);

  // Started again while screenings are still to come: nothing new (several instances start together, too).
  await Promise.all([seedDatabases(h.dbs), seedDatabases(h.dbs)]);
  expect(await screenings()).toEqual(first);

  // Started again days later: everything has been shown; a new programme, the old screenings kept.
  await h.dbs.seats.query("UPDATE cinema.screenings SET starts_at = starts_at - interval '3 days'");
  await seedDatabases(h.dbs);
  const later = await screenings();
  expect(later).toHaveLength(12);
  expect(later.filter((s) => s.upcoming).map((s) => s.id)).toEqual([7, 8, 9, 10, 11, 12]);
  expect(later.every((s) => s.seats > 0)).toBe(true);
});
