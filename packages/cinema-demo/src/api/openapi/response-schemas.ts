import { z } from 'zod';

// The bodies the API answers, as zod schemas: the OpenAPI document is generated from them (with the request
// schemas of ../validation.ts), and the contract tests check every real answer against that document.
// Objects are closed (no undocumented field may appear); dates are ISO 8601 strings, as JSON has them.

const isoDate = z.iso.datetime({ offset: true });
const id = z.number().int().positive();

/** The one error body: a stable code, a message for people, and per-field details for validation errors. */
export function errorBody(codes: readonly [string, ...string[]]) {
  return z.object({
    error: z.object({
      code: z.enum(codes),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  });
}

export const health = z.object({
  status: z.enum(['ok', 'degraded']),
  databases: z.object({
    seats: z.enum(['ok', 'down']),
    payments: z.enum(['ok', 'down']),
    tickets: z.enum(['ok', 'down']),
  }),
});

export const screenings = z.object({
  screenings: z.array(
    z.object({
      id,
      title: z.string(),
      room: z.string(),
      startsAt: isoDate,
      priceCents: z.number().int(),
      freeSeats: z.number().int(),
      totalSeats: z.number().int(),
    }),
  ),
});

const seatStatus = z.enum(['free', 'sold']);

export const screeningWithSeats = z.object({
  screening: z.object({
    id,
    title: z.string(),
    room: z.string(),
    rowCount: z.number().int(),
    placesPerRow: z.number().int(),
    startsAt: isoDate,
    priceCents: z.number().int(),
    started: z.boolean(),
  }),
  seats: z.array(
    z.object({
      seatId: id,
      row: z.number().int(),
      place: z.number().int(),
      status: seatStatus,
      version: z.number().int(),
    }),
  ),
});

export const readModelSnapshot = z.object({
  screeningId: id,
  version: z.number().int(),
  seats: z.array(z.object({ seatId: id, status: seatStatus, version: z.number().int() })),
});

const customerName = z.object({ id, name: z.string() });

/** What sign-up and sign-in answer: the token is for programs (Bearer), the browser uses the cookie. */
export const sessionStarted = z.object({
  customer: customerName,
  token: z.string().describe('bearer token (the same session as the cookie)'),
  csrfToken: z.string().describe('send as X-CSRF-Token on writes made with the cookie'),
  expiresAt: isoDate,
});

export const currentSession = z.object({ customerId: id, csrfToken: z.string(), expiresAt: isoDate });

export const me = z.object({
  customer: customerName.extend({ balanceCents: z.number().int() }),
  payments: z.array(
    z.object({
      bookingId: z.uuid(),
      amountCents: z.number().int(),
      status: z.enum(['captured', 'refunded']),
      createdAt: isoDate,
      refundedAt: isoDate.nullable(),
    }),
  ),
});

export const topUp = z.object({
  topUp: z.object({
    id: z.string(),
    amountCents: z.number().int(),
    createdAt: isoDate,
    balanceCents: z.number().int(),
  }),
});

const booking = z.object({
  id: z.uuid(),
  customerId: id,
  idempotencyKey: z.string(),
  screeningId: id,
  seatIds: z.array(id),
  mode: z.enum(['saga', '2pc']),
  amountCents: z.number().int(),
  status: z.enum(['pending', 'confirmed', 'rejected', 'cancelling', 'cancelled']),
  reason: z.string().nullable().describe('why it was rejected: seat-taken, payment-declined, ...'),
  message: z.string().nullable(),
  ticketCodes: z.array(z.string()).nullable(),
  createdAt: isoDate,
  updatedAt: isoDate,
});

export const oneBooking = z.object({ booking });
export const bookings = z.object({ bookings: z.array(booking) });

export const timeline = z.object({
  events: z.array(
    z.object({
      at: isoDate,
      kind: z.enum(['request', 'step', 'compensation', 'phase']),
      name: z.string(),
      status: z.string(),
      detail: z.string().nullable().optional(),
    }),
  ),
});

export const waterfall = z.object({
  waterfalls: z.array(
    z.object({
      run: z.enum(['booking', 'cancellation']),
      protocol: z.enum(['saga', '2pc']),
      startedAt: isoDate,
      totalMs: z.number().nonnegative(),
      outcome: z.string().describe('completed, compensated: <reason>, committed, aborted, ...'),
      bars: z.array(
        z.object({
          lane: z.string().describe('coordinator, seats, payments or tickets'),
          name: z.string(),
          kind: z.enum(['step', 'compensation', 'phase']),
          startMs: z.number().nonnegative().describe('from the start of the transaction'),
          durationMs: z.number().nonnegative(),
          failed: z.boolean(),
          attempt: z.number().int().positive().optional(),
          detail: z.string().nullable().optional(),
        }),
      ),
    }),
  ),
});

const sagaSummary = z.object({
  id: z.string(),
  name: z.string(),
  type: z
    .enum(['booking', 'cancellation'])
    .nullable()
    .optional()
    .describe('what the saga does for its booking'),
  bookingId: z.string().nullable().optional(),
  customer: z.object({ id, name: z.string() }).nullable().optional().describe("the booking's customer"),
  status: z.string(),
  startedAt: isoDate.nullable(),
  updatedAt: isoDate.nullable(),
  steps: z.array(z.object({ name: z.string(), status: z.string(), error: z.string().nullable().optional() })),
});

export const transactions = z.object({
  sagas: z.array(sagaSummary),
  twoPhase: z.array(
    z.object({
      id: z.string(),
      phase: z.string(),
      participants: z.array(z.string()),
      at: isoDate.nullable(),
    }),
  ),
  inDoubt: z.array(z.object({ participant: z.string(), gid: z.string(), preparedAt: isoDate })),
  stuck: z.array(sagaSummary),
});
