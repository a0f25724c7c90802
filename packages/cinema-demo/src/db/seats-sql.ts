import type { BookingRecord } from '../booking/booking-record.js';
import type { Statement } from './statement.js';

// All SQL of the seats database (pg-boss plans.ts style): whoever asks "what touches seats?" opens this file.

/** Screenings still to come (a started one can no longer be booked), soonest first. */
export const listScreenings = (): Statement => ({
  text: `SELECT sc.id, m.title, r.name AS room, sc.starts_at AS "startsAt", sc.price_cents AS "priceCents",
                count(*) FILTER (WHERE ss.status = 'free')::int AS "freeSeats", count(*)::int AS "totalSeats"
           FROM cinema.screenings sc
           JOIN cinema.movies m ON m.id = sc.movie_id
           JOIN cinema.rooms r ON r.id = sc.room_id
           JOIN cinema.screening_seats ss ON ss.screening_id = sc.id
          WHERE sc.starts_at > now()
          GROUP BY sc.id, m.title, r.name
          ORDER BY sc.starts_at, sc.id`,
  values: [],
});

export const getScreening = (id: number): Statement => ({
  text: `SELECT sc.id, m.title, r.name AS room, r.row_count AS "rowCount", r.places_per_row AS "placesPerRow",
                sc.starts_at AS "startsAt", sc.price_cents AS "priceCents",
                -- By the database's clock, the same for every API instance.
                sc.starts_at <= now() AS started
           FROM cinema.screenings sc
           JOIN cinema.movies m ON m.id = sc.movie_id
           JOIN cinema.rooms r ON r.id = sc.room_id
          WHERE sc.id = $1`,
  values: [id],
});

/** Seat states of one screening; never says who holds a seat. */
export const seatMap = (screeningId: number): Statement => ({
  text: `SELECT s.id AS "seatId", s.row_number AS "row", s.place, ss.status, ss.version::int AS version
           FROM cinema.screening_seats ss JOIN cinema.seats s ON s.id = ss.seat_id
          WHERE ss.screening_id = $1
          ORDER BY s.row_number, s.place`,
  values: [screeningId],
});

/**
 * Sells the seats in one statement, or nothing: locks exactly these rows in seat order (two bookings never
 * deadlock), sells them and records them for the booking only when every one is free, and returns each locked
 * seat's status with its new version when sold (none when any was taken: the caller refuses).
 *
 * "Free" is judged on the locked rows only. Under READ COMMITTED a statement that waited for a row lock reads
 * that row as its holder committed it, but the rest of the statement keeps its snapshot: a seat freed by the
 * transaction it waited for is free in `locked` and still sold in the snapshot, so a `status = 'free'` test on
 * the updated table would skip it and sell nothing while `locked` said free.
 */
export const reserveSeats = (screeningId: number, seatIds: number[], bookingId: string): Statement => ({
  text: `WITH locked AS (
           SELECT seat_id, status FROM cinema.screening_seats
            WHERE screening_id = $1 AND seat_id = ANY($2::int[])
            ORDER BY seat_id FOR UPDATE
         ), sold AS (
           UPDATE cinema.screening_seats ss
              SET status = 'sold', booking_id = $3, version = nextval('cinema.seat_version')
             FROM locked
            WHERE ss.screening_id = $1 AND ss.seat_id = locked.seat_id
              AND (SELECT count(*) FILTER (WHERE status = 'free') FROM locked) = cardinality($2::int[])
           RETURNING ss.seat_id, ss.version
         ), recorded AS (
           INSERT INTO cinema.booking_seats (booking_id, screening_id, seat_id) SELECT $3, $1, seat_id FROM sold
         )
         SELECT l.seat_id AS "seatId", l.status, s.version::int AS version
           FROM locked l LEFT JOIN sold s USING (seat_id)
          ORDER BY l.seat_id`,
  values: [screeningId, seatIds, bookingId],
});

export const freeSeatsOfBooking = (bookingId: string): Statement => ({
  text: `UPDATE cinema.screening_seats SET status = 'free', booking_id = NULL, version = nextval('cinema.seat_version')
          WHERE booking_id = $1
          RETURNING screening_id AS "screeningId", seat_id AS "seatId", version::int AS version`,
  values: [bookingId],
});

export const releaseBookingSeats = (bookingId: string): Statement => ({
  text: `UPDATE cinema.booking_seats SET released_at = now() WHERE booking_id = $1 AND released_at IS NULL`,
  values: [bookingId],
});

/** What a new booking row is inserted with (the rest of its record starts as `pending` with no outcome). */
export type NewBooking = Pick<
  BookingRecord,
  'id' | 'customerId' | 'idempotencyKey' | 'requestHash' | 'screeningId' | 'seatIds' | 'mode' | 'amountCents'
>;

/**
 * A booking's admission in one round trip: the customer's idempotency key looked up, the screening (price, not
 * started yet) and the seats (of its room) checked, the customer's rate-limit hit counted — only for a request
 * that passed the checks — and the key claimed by a new `pending` booking priced by the database, only within the
 * limit. Every outcome is in the one row it returns; nothing is written for a refused or replayed request but
 * (within its checks) the hit.
 */
export const admitBooking = (
  b: Omit<NewBooking, 'amountCents'>,
  rate: { key: string; windowStart: Date; max: number },
): Statement => ({
  text: `WITH existing AS (
           SELECT id FROM cinema.bookings WHERE customer_id = $2 AND idempotency_key = $3
         ), screening AS (
           SELECT price_cents, starts_at, starts_at <= now() AS started FROM cinema.screenings WHERE id = $5
         ), foreign_seats AS (
           SELECT coalesce(array_agg(x ORDER BY x), '{}')::int[] AS ids FROM unnest($6::int[]) AS x
            WHERE NOT EXISTS (SELECT 1 FROM cinema.screening_seats ss WHERE ss.screening_id = $5 AND ss.seat_id = x)
         ), admitted AS (
           SELECT s.price_cents FROM screening s, foreign_seats f
            WHERE NOT EXISTS (SELECT 1 FROM existing) AND NOT s.started AND cardinality(f.ids) = 0
         ), hit AS (
           INSERT INTO cinema.rate_limits (key, window_start, hits) SELECT $8, $9, 1 FROM admitted
           ON CONFLICT (key, window_start) DO UPDATE SET hits = cinema.rate_limits.hits + 1
           RETURNING hits
         ), claimed AS (
           INSERT INTO cinema.bookings
             (id, customer_id, idempotency_key, request_hash, screening_id, seat_ids, mode, amount_cents, status)
           SELECT $1, $2, $3, $4, $5, $6, $7, a.price_cents * cardinality($6::int[]), 'pending'
             FROM admitted a, hit WHERE hit.hits <= $10
           ON CONFLICT (customer_id, idempotency_key) DO NOTHING
           RETURNING id, amount_cents, created_at
         )
         SELECT (SELECT id FROM existing) AS "existingId",
                (SELECT amount_cents FROM claimed) AS "claimedAmountCents",
                (SELECT created_at FROM claimed) AS "createdAt",
                EXISTS (SELECT 1 FROM screening) AS "screeningFound",
                coalesce((SELECT started FROM screening), false) AS started,
                (SELECT starts_at FROM screening) AS "startsAt",
                (SELECT ids FROM foreign_seats) AS "foreignSeatIds",
                (SELECT hits FROM hit) AS hits`,
  values: [
    b.id,
    b.customerId,
    b.idempotencyKey,
    b.requestHash,
    b.screeningId,
    b.seatIds,
    b.mode,
    rate.key,
    rate.windowStart,
    rate.max,
  ],
});

const bookingColumns = `id, customer_id AS "customerId", idempotency_key AS "idempotencyKey",
  request_hash AS "requestHash", screening_id AS "screeningId", seat_ids AS "seatIds", mode,
  amount_cents AS "amountCents", status, reason, message, ticket_codes AS "ticketCodes",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export const findBookingByKey = (customerId: number, key: string): Statement => ({
  text: `SELECT ${bookingColumns} FROM cinema.bookings WHERE customer_id = $1 AND idempotency_key = $2`,
  values: [customerId, key],
});

export const getBooking = (id: string): Statement => ({
  text: `SELECT ${bookingColumns} FROM cinema.bookings WHERE id = $1`,
  values: [id],
});

export const lockBooking = (id: string): Statement => ({
  text: `SELECT ${bookingColumns} FROM cinema.bookings WHERE id = $1 FOR UPDATE`,
  values: [id],
});

export const listCustomerBookings = (customerId: number, limit: number): Statement => ({
  text: `SELECT ${bookingColumns} FROM cinema.bookings WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2`,
  values: [customerId, limit],
});

/** Confirms a pending booking; returns its new `updatedAt` (none when it was not pending). */
export const recordConfirmed = (id: string, ticketCodes: string[]): Statement => ({
  text: `UPDATE cinema.bookings SET status = 'confirmed', ticket_codes = $2, updated_at = now()
          WHERE id = $1 AND status = 'pending'
          RETURNING updated_at AS "updatedAt"`,
  values: [id, ticketCodes],
});

/**
 * Records a rejection of a booking that is still pending, and nothing else: a 2PC booking's confirmation may
 * yet be committed by recovery, and must win. Returns the id when the booking changed.
 */
export const recordRejected = (id: string, reason: string, message: string): Statement => ({
  text: `UPDATE cinema.bookings SET status = 'rejected', reason = $2, message = $3, updated_at = now()
          WHERE id = $1 AND status = 'pending'
          RETURNING id`,
  values: [id, reason, message],
});

/**
 * Records a saga's rejection: of a booking still pending (the saga failed before it sold the seats), or the
 * reason of one its compensation marked rejected without knowing why. A compensated saga cannot confirm any more.
 */
export const recordSagaRejected = (id: string, reason: string, message: string): Statement => ({
  text: `UPDATE cinema.bookings SET status = 'rejected', reason = $2, message = $3, updated_at = now()
          WHERE id = $1 AND (status = 'pending' OR (status = 'rejected' AND reason IS NULL))
          RETURNING id`,
  values: [id, reason, message],
});

export const markCancelled = (id: string): Statement => ({
  text: `UPDATE cinema.bookings SET status = 'cancelled', updated_at = now() WHERE id = $1 AND status = 'cancelling'`,
  values: [id],
});

/** Moves a booking on only from the given status, so a late writer cannot undo a newer state. */
export const transitionBooking = (id: string, from: string, to: string): Statement => ({
  text: `UPDATE cinema.bookings SET status = $3, updated_at = now() WHERE id = $1 AND status = $2 RETURNING id`,
  values: [id, from, to],
});

/** Counts a hit in the current fixed window and returns the count so far (shared by all API instances). */
export const hitRateLimit = (key: string, windowStart: Date): Statement => ({
  text: `INSERT INTO cinema.rate_limits (key, window_start, hits) VALUES ($1, $2, 1)
         ON CONFLICT (key, window_start) DO UPDATE SET hits = cinema.rate_limits.hits + 1
         RETURNING hits`,
  values: [key, windowStart],
});

export const pruneRateLimits = (before: Date): Statement => ({
  text: `DELETE FROM cinema.rate_limits WHERE window_start < $1`,
  values: [before],
});

/** Every seat of every screening with its version, to rebuild the read model. */
export const allSeatStates = (): Statement => ({
  text: `SELECT screening_id AS "screeningId", seat_id AS "seatId", status, version::int AS version
           FROM cinema.screening_seats ORDER BY screening_id, seat_id`,
  values: [],
});

/**
 * Bookings left in `status` longer than `olderThanMs` by `mode`: the process that ran them died (pending: before
 * or during its saga or transaction; cancelling: during its cancellation).
 */
export const staleBookings = (
  status: 'pending' | 'cancelling',
  mode: string,
  olderThanMs: number,
  limit: number,
): Statement => ({
  text: `SELECT ${bookingColumns} FROM cinema.bookings
          WHERE status = $1 AND mode = $2 AND updated_at < now() - make_interval(secs => $3::float8 / 1000)
          ORDER BY updated_at LIMIT $4`,
  values: [status, mode, olderThanMs, limit],
});

/** Saga bookings still pending, or rejected by a compensation that recovery ran (no reason recorded). */
export const unfinishedSagaBookings = (olderThanMs: number, limit: number): Statement => ({
  text: `SELECT ${bookingColumns} FROM cinema.bookings
          WHERE mode = 'saga' AND (status = 'pending' OR (status = 'rejected' AND reason IS NULL))
            AND updated_at < now() - make_interval(secs => $1::float8 / 1000)
          ORDER BY updated_at LIMIT $2`,
  values: [olderThanMs, limit],
});
