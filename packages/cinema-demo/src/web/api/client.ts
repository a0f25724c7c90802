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

async function call<T>(method: string, path: string, init: { body?: unknown; headers?: HeadersInit } = {}) {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      // The session is an HttpOnly cookie: same-origin requests carry it, scripts never see it.
      credentials: 'same-origin',
      headers: {
        Accept: 'application/json',
        ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }),
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
  if (!response.ok) {
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
  customers: () => call<{ customers: CustomerName[] }>('GET', '/api/customers'),
  signIn: (who: { customerId: number } | { name: string }) =>
    call<{ customer: CustomerName; expiresAt: string }>('POST', '/api/session', { body: who }),
  signOut: () => call<void>('DELETE', '/api/session'),
  me: () => call<{ customer: Customer; payments: Payment[] }>('GET', '/api/me'),
  bookings: () => call<{ bookings: Booking[] }>('GET', '/api/bookings'),
  book: (request: { screeningId: number; seatIds: number[]; mode: BookingMode }, idempotencyKey: string) =>
    call<{ booking: Booking }>('POST', '/api/bookings', {
      body: request,
      headers: { 'Idempotency-Key': idempotencyKey },
    }),
  booking: (id: string) => call<{ booking: Booking }>('GET', `/api/bookings/${id}`),
  cancel: (id: string) => call<{ booking: Booking }>('POST', `/api/bookings/${id}/cancel`),
  timeline: (id: string) => call<{ events: TimelineEvent[] }>('GET', `/api/bookings/${id}/timeline`),
  transactions: (operatorToken: string, limit = 50) =>
    call<TransactionsView>('GET', `/api/ops/transactions?limit=${limit}`, {
      headers: { Authorization: `Bearer ${operatorToken}` },
    }),
};
