import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { LoadSample } from '../library/run-load.js';
import type { SeatPicker } from '../library/seat-picker.js';

type Outcome = 'confirmed' | 'rejected' | 'declined' | 'error';

interface BookingAnswer {
  booking?: { id: string; status: string; reason?: string | null };
  error?: { code: string; message: string };
}

/**
 * Persistent connections for the load's requests. Node's `http` rather than `fetch`: on the bench's machine the
 * HTTP client shares the cores with the system it measures, and `fetch` (undici behind WHATWG streams) cost about
 * 0.6–1.2 ms of CPU more per request than `http.request` on the same keep-alive connections (a micro-benchmark of
 * 4,000 POSTs, 8 at a time) — close to what the library level's whole generator spends per booking.
 */
const agent = new http.Agent({ keepAlive: true });

/** One JSON request on a kept-alive connection; the answer's status and parsed body (`{}` when not JSON). */
function requestJson(
  method: 'GET' | 'POST',
  url: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; json: BookingAnswer & { token?: string } }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method,
        agent,
        headers: payload === undefined ? headers : { 'content-type': 'application/json', ...headers },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('error', reject);
        response.on('end', () => {
          let json = {};
          try {
            json = JSON.parse(text);
          } catch {}
          resolve({ status: response.statusCode ?? 0, json });
        });
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

const postJson = (url: string, body: unknown, headers: Record<string, string>) =>
  requestJson('POST', url, headers, body);

/**
 * Signs a new customer up (`POST /api/accounts { email, password, name }`, a throwaway password) and returns its
 * bearer token.
 */
export async function signUp(baseUrl: string, name: string): Promise<string> {
  const account = { email: `${name}@bench.example`, password: randomUUID(), name };
  const { status, json } = await postJson(`${baseUrl}/api/accounts`, account, {});
  if (status !== 201 || !json.token)
    throw new Error(`sign-up of ${name} answered ${status}: ${JSON.stringify(json)}`);
  return json.token;
}

/** Follows a booking that answered 202 (still running) until it has an outcome. */
async function awaitOutcome(baseUrl: string, token: string, id: string): Promise<BookingAnswer['booking']> {
  for (let i = 0; i < 600; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const { json } = await requestJson('GET', `${baseUrl}/api/bookings/${id}`, {
      authorization: `Bearer ${token}`,
    });
    if (json.booking && json.booking.status !== 'pending') return json.booking;
  }
  return undefined;
}

/**
 * Closed-loop HTTP load on the demo API: `tokens.length` clients, each a signed-in customer, each booking one
 * seat at a time (`POST /api/bookings` with a fresh `Idempotency-Key`), retrying the same key once on a
 * transport error (the proxy may have lost an instance), following a 202 until the booking has its outcome.
 */
export async function runHttpLoad(options: {
  baseUrl: string;
  tokens: string[];
  mode: 'saga' | '2pc';
  screeningId: number;
  seatIds: readonly number[];
  seats: SeatPicker;
  durationMs: number;
  round: number;
}): Promise<LoadSample & { reasons: Record<string, number> }> {
  const outcomes: Record<Outcome, number> = { confirmed: 0, rejected: 0, declined: 0, error: 0 };
  const reasons: Record<string, number> = {};
  const latenciesMs: number[] = [];
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + options.durationMs;
  const client = async (token: string) => {
    while (performance.now() < deadline) {
      const index = options.seats.next() - 1;
      const seatId = options.seatIds[index % options.seatIds.length]!;
      const key = randomUUID();
      const t0 = performance.now();
      let outcome: Outcome = 'error';
      try {
        const post = () =>
          postJson(
            `${options.baseUrl}/api/bookings`,
            { screeningId: options.screeningId, seatIds: [seatId], mode: options.mode },
            { authorization: `Bearer ${token}`, 'idempotency-key': key },
          );
        let answer = await post().catch(() => post());
        let booking = answer.json.booking;
        if (answer.status === 202 && booking)
          booking = await awaitOutcome(options.baseUrl, token, booking.id);
        if (answer.status >= 500 && !booking) answer = await post();
        booking ??= answer.json.booking;
        // The status says the outcome (201/200 confirmed, 409 refused with the rejected booking in the body,
        // 202 running); the booking in the body says why. Both must agree, or the answer counts as an error.
        if (
          booking?.status === 'confirmed' &&
          (answer.status === 201 || answer.status === 200 || answer.status === 202)
        )
          outcome = 'confirmed';
        else if (booking?.status === 'rejected' && (answer.status === 409 || answer.status === 202)) {
          const reason = booking.reason ?? 'unknown';
          reasons[reason] = (reasons[reason] ?? 0) + 1;
          outcome = reason === 'payment-declined' ? 'declined' : 'rejected';
        } else {
          firstError ??= `HTTP ${answer.status}: ${JSON.stringify(answer.json).slice(0, 200)}`;
        }
      } catch (error) {
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
      outcomes[outcome]++;
      if (outcome !== 'error') latenciesMs.push(performance.now() - t0);
      if (outcome === 'confirmed') options.seats.sold?.(index + 1);
    }
  };
  await Promise.all(options.tokens.map(client));
  return {
    mode: options.mode,
    concurrency: options.tokens.length,
    round: options.round,
    durationMs: performance.now() - started,
    outcomes,
    latenciesMs,
    reasons,
    ...(firstError ? { firstError } : {}),
  };
}
