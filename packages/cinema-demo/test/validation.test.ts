import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type DemoHarness, seatsOf, startHarness, writeCounts } from './support/demo-harness.js';

let h: DemoHarness;
let token: string;
let seat: number;
let otherRoomSeat: number;
let startedScreening: number;
let startedSeat: number;

beforeAll(async () => {
  h = await startHarness('validation');
  token = await h.signIn(1);
  seat = (await seatsOf(h.dbs, 1, 1))[0]!;
  // Screening 2 is in another room: its seats are not seats of screening 1.
  otherRoomSeat = (await seatsOf(h.dbs, 2, 1))[0]!;
  // A screening that began an hour ago, in room 1, with its seats free.
  const { rows } = await h.dbs.seats.query<{ id: number }>(
    `INSERT INTO cinema.screenings (movie_id, room_id, starts_at, price_cents)
     SELECT movie_id, room_id, now() - interval '1 hour', price_cents FROM cinema.screenings WHERE id = 1
     RETURNING id`,
  );
  startedScreening = rows[0]!.id;
  await h.dbs.seats.query(
    `INSERT INTO cinema.screening_seats (screening_id, seat_id)
     SELECT $1, seat_id FROM cinema.screening_seats WHERE screening_id = 1`,
    [startedScreening],
  );
  startedSeat = (await seatsOf(h.dbs, startedScreening, 1))[0]!;
});
afterAll(() => h?.close());

const valid = () => ({ screeningId: 1, seatIds: [seat], mode: 'saga' });

const cases: [string, () => { body?: unknown; rawBody?: string; key?: string | null }, number, string][] = [
  ['unknown screening', () => ({ body: { ...valid(), screeningId: 999 } }), 404, 'screening-not-found'],
  [
    'a screening that has started',
    () => ({ body: { ...valid(), screeningId: startedScreening, seatIds: [startedSeat] } }),
    409,
    'screening-started',
  ],
  [
    'seat not in that room',
    () => ({ body: { ...valid(), seatIds: [otherRoomSeat] } }),
    422,
    'seat-not-in-room',
  ],
  ['unknown seat id', () => ({ body: { ...valid(), seatIds: [987654] } }), 422, 'seat-not-in-room'],
  ['empty seats', () => ({ body: { ...valid(), seatIds: [] } }), 400, 'invalid-request'],
  ['duplicate seats', () => ({ body: { ...valid(), seatIds: [seat, seat] } }), 400, 'invalid-request'],
  [
    'too many seats',
    () => ({ body: { ...valid(), seatIds: Array.from({ length: 9 }, (_, i) => i + 1) } }),
    400,
    'invalid-request',
  ],
  ['negative screening', () => ({ body: { ...valid(), screeningId: -1 } }), 400, 'invalid-request'],
  ['negative seat', () => ({ body: { ...valid(), seatIds: [-5] } }), 400, 'invalid-request'],
  ['huge number', () => ({ body: { ...valid(), screeningId: 1e20 } }), 400, 'invalid-request'],
  ['fractional id', () => ({ body: { ...valid(), screeningId: 1.5 } }), 400, 'invalid-request'],
  ['string id', () => ({ body: { ...valid(), screeningId: '1' } }), 400, 'invalid-request'],
  ['seats not an array', () => ({ body: { ...valid(), seatIds: seat } }), 400, 'invalid-request'],
  ['unknown mode', () => ({ body: { ...valid(), mode: '3pc' } }), 400, 'invalid-request'],
  ['missing mode', () => ({ body: { screeningId: 1, seatIds: [seat] } }), 400, 'invalid-request'],
  ['missing body', () => ({}), 400, 'invalid-request'],
  ['a client-sent price', () => ({ body: { ...valid(), amountCents: 1 } }), 400, 'invalid-request'],
  ['a client-sent customer', () => ({ body: { ...valid(), customerId: 2 } }), 400, 'invalid-request'],
  ['malformed JSON', () => ({ rawBody: '{"screeningId": 1,' }), 400, 'malformed-json'],
  [
    'a 1 MB body',
    () => ({ rawBody: JSON.stringify({ ...valid(), pad: 'x'.repeat(1_048_576) }) }),
    413,
    'body-too-large',
  ],
  ['missing idempotency key', () => ({ body: valid(), key: null }), 400, 'invalid-request'],
  [
    'malformed idempotency key',
    () => ({ body: valid(), key: 'bad key with spaces!' }),
    400,
    'invalid-request',
  ],
  ['too short idempotency key', () => ({ body: valid(), key: 'abc' }), 400, 'invalid-request'],
];

it.each(cases)('%s: %i %s with a clear message, nothing written', async (_name, make, status, code) => {
  const before = await writeCounts(h.dbs);
  const c = make();
  const key = c.key === undefined ? randomUUID() : (c.key ?? undefined);
  const res = await h.request('POST', '/api/bookings', { token, key, body: c.body, rawBody: c.rawBody });
  expect(res.status).toBe(status);
  expect(res.body.error.code).toBe(code);
  expect(res.body.error.message.length).toBeGreaterThan(5);
  expect(await writeCounts(h.dbs)).toEqual(before);
});

it('bad path parameters are 400s, unknown routes 404s, all as JSON', async () => {
  expect((await h.request('GET', '/api/screenings/abc')).status).toBe(400);
  expect((await h.request('GET', '/api/screenings/0')).status).toBe(400);
  expect((await h.request('GET', '/api/screenings/999')).status).toBe(404);
  expect((await h.request('GET', '/api/bookings/not-a-uuid', { token })).status).toBe(400);
  const missing = await h.request('GET', '/api/nothing-here');
  expect(missing.status).toBe(404);
  expect(missing.body.error.code).toBe('not-found');
});

it('lists screenings and a seat map with each seat state', async () => {
  const list = await h.request('GET', '/api/screenings');
  expect(list.body.screenings.length).toBeGreaterThan(0);
  // Only screenings still to come: a started one can no longer be booked.
  const ids = list.body.screenings.map((s: { id: number }) => s.id);
  expect(ids).toContain(1);
  expect(ids).not.toContain(startedScreening);
  const map = await h.request('GET', '/api/screenings/1');
  expect(map.body.screening).toMatchObject({ id: 1, rowCount: 10, placesPerRow: 15 });
  expect(map.body.seats).toHaveLength(150);
  expect(map.body.seats[0]).toEqual({
    seatId: expect.any(Number),
    row: 1,
    place: 1,
    status: 'free',
    version: 0,
  });
});

it('answers health, and security headers are set', async () => {
  const res = await h.request('GET', '/healthz');
  expect(res.body).toEqual({ status: 'ok', databases: { seats: 'ok', payments: 'ok', tickets: 'ok' } });
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
});

it('refuses state-changing requests from a foreign origin', async () => {
  const before = await writeCounts(h.dbs);
  const res = await h.request('POST', '/api/bookings', {
    token,
    key: randomUUID(),
    body: valid(),
    headers: { origin: 'https://evil.example' },
  });
  expect(res.status).toBe(403);
  expect(res.headers.get('access-control-allow-origin')).toBeNull();
  expect(await writeCounts(h.dbs)).toEqual(before);
});
