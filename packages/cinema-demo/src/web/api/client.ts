import type {
  Booking,
  BookingMode,
  Customer,
  CustomerName,
  Payment,
  Screening,
  ScreeningSummary,
  Seat,
  TimelineEvent,
  TransactionsView,
  WaterfallData,
} from './types';

/** An answer other than 2xx, with the server's stable error code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

// The session's CSRF token, from the sign-in answer or GET /api/session. Sent on every request that is not a
// read: the server refuses a write that came with the cookie alone (another site can make a browser send the
// cookie, but cannot read this token). Kept in memory only.
let csrfToken: string | undefined;

async function call<T>(
  method: string,
  path: string,
  init: { body?: unknown; headers?: HeadersInit; answers?: number[] } = {},
) {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      // The session is an HttpOnly cookie: same-origin requests carry it, scripts never see it.
      credentials: 'same-origin',
      headers: {
        Accept: 'application/json',
        ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...(method !== 'GET' && csrfToken ? { 'X-CSRF-Token': csrfToken } : {}),
        ...init.headers,
      },
      body: init.body === undefined ? null : JSON.stringify(init.body),
    });
  } catch {
    throw new ApiError(0, 'network', 'the server cannot be reached');
  }
  if (response.status === 204) return undefined as T;
  const payload = (await response.json().catch(() => null)) as
    | (T & { error?: { code?: string; message?: string } })
    | null;
  // A status the caller takes as an answer (a refused booking's 409) still fails when its body is an error.
  const answered = init.answers?.includes(response.status) && payload && !payload.error;
  if (!response.ok && !answered) {
    const retryAfter = Number(response.headers.get('retry-after'));
    throw new ApiError(
      response.status,
      payload?.error?.code ?? `http-${response.status}`,
      payload?.error?.message ?? response.statusText,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    );
  }
  return payload as T;
}

/** What sign-in and sign-up answer (the bearer token in it is for programs; the page uses the cookie). */
interface SessionAnswer {
  customer: CustomerName;
  csrfToken: string;
  expiresAt: string;
}

function keepCsrf<T extends { csrfToken: string }>(answer: T): T {
  csrfToken = answer.csrfToken;
  return answer;
}

/** A fresh idempotency key; also where `crypto.randomUUID` is missing (plain http on a LAN address). */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The demo API as the browser uses it.
 *
 * @example
 * const { screenings } = await api.screenings();
 */
export const api = {
  screenings: () => call<{ screenings: ScreeningSummary[] }>('GET', '/api/screenings'),
  screening: (id: number) => call<{ screening: Screening; seats: Seat[] }>('GET', `/api/screenings/${id}`),
  signIn: async (credentials: { email: string; password: string }) =>
    keepCsrf(await call<SessionAnswer>('POST', '/api/session', { body: credentials })),
  signUp: async (account: { email: string; password: string; name: string }) =>
    keepCsrf(await call<SessionAnswer>('POST', '/api/accounts', { body: account })),
  /** The current session (after a reload: its CSRF token); 401 when signed out. */
  session: async () => keepCsrf(await call<{ csrfToken: string; expiresAt: string }>('GET', '/api/session')),
  signOut: async () => {
    try {
      await call<void>('DELETE', '/api/session');
    } finally {
      csrfToken = undefined;
    }
  },
  me: () => call<{ customer: Customer; payments: Payment[] }>('GET', '/api/me'),
  topUp: (amountCents: number) =>
    call<{ topUp: { amountCents: number; balanceCents: number } }>('POST', '/api/me/top-up', {
      body: { amountCents },
    }),
  bookings: () => call<{ bookings: Booking[] }>('GET', '/api/bookings'),
  /** A refused booking answers 409 with the rejected booking (and its reason): an outcome, not an error. */
  book: (request: { screeningId: number; seatIds: number[]; mode: BookingMode }, idempotencyKey: string) =>
    call<{ booking: Booking }>('POST', '/api/bookings', {
      body: request,
      headers: { 'Idempotency-Key': idempotencyKey },
      answers: [409],
    }),
  booking: (id: string) => call<{ booking: Booking }>('GET', `/api/bookings/${id}`),
  cancel: (id: string) => call<{ booking: Booking }>('POST', `/api/bookings/${id}/cancel`),
  timeline: (id: string) => call<{ events: TimelineEvent[] }>('GET', `/api/bookings/${id}/timeline`),
  waterfall: (id: string) => call<{ waterfalls: WaterfallData[] }>('GET', `/api/bookings/${id}/waterfall`),
  transactions: (operatorToken: string, limit = 50) =>
    call<TransactionsView>('GET', `/api/ops/transactions?limit=${limit}`, {
      headers: { Authorization: `Bearer ${operatorToken}` },
    }),
};
