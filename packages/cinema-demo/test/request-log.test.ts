import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/server/logger.js';
import { type DemoHarness, startHarness } from './support/demo-harness.js';

// What an operator reads: one line per request with its route and the booking it concerned, and errors as their
// message and code — never the objects they carry.

const lines: Record<string, unknown>[] = [];
const destination = { write: (line: string) => void lines.push(JSON.parse(line)) };
let h: DemoHarness;

beforeAll(async () => {
  h = await startHarness('request log', {}, { logger: createLogger('cinema-api:test', 'info', destination) });
});
afterAll(async () => {
  await h?.close();
});

const requestLines = () => lines.filter((l) => l.msg === 'request');

describe('the request log', () => {
  it('has one line per request: method, route, status, ms and the booking id', async () => {
    const token = await h.signIn(1);
    const { rows } = await h.dbs.seats.query<{ seat_id: number }>(
      "SELECT seat_id FROM cinema.screening_seats WHERE screening_id = 1 AND status = 'free' ORDER BY seat_id LIMIT 1",
    );
    const before = requestLines().length;
    const booked = await h.book(token, { screeningId: 1, seatIds: [rows[0]!.seat_id], mode: '2pc' });
    expect(booked.status).toBe(201);
    const id = booked.body.booking.id as string;
    expect((await h.request('GET', `/api/bookings/${id}`, { token })).status).toBe(200);

    // The line is written when the response finishes, which may be just after the client has read it.
    await expect.poll(() => requestLines().length - before, { timeout: 5_000 }).toBe(2);
    const [post, get] = requestLines().slice(before);
    expect(post).toMatchObject({
      level: 30,
      method: 'POST',
      route: '/api/bookings',
      status: 201,
      bookingId: id,
    });
    expect(get).toMatchObject({
      method: 'GET',
      route: '/api/bookings/:bookingId',
      status: 200,
      bookingId: id,
    });
    for (const line of [post, get]) {
      expect(typeof line!.ms).toBe('number');
      // The route, not the URL: no ids or query strings outside `bookingId`.
      expect(line).not.toHaveProperty('url');
    }
  });

  it('logs an error as its name, message, code and cause, not the objects it holds', () => {
    const logger = createLogger('cinema-api:test', 'info', destination);
    const client = {
      pool: { clients: [] },
      connection: { stream: 'socket' },
      secret: 'connection internals',
    };
    const error = Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
      client,
      cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
    });
    logger.warn({ err: error }, 'idle database connection failed');
    const line = lines.at(-1)!;
    expect(line.err).toEqual({
      name: 'Error',
      message: 'terminating connection due to administrator command',
      code: '57P01',
      cause: { name: 'Error', message: 'read ECONNRESET', code: 'ECONNRESET' },
    });
    expect(JSON.stringify(line)).not.toContain('connection internals');
  });
});
