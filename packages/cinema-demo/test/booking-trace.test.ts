import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEAT_TOPIC } from '../src/events/seat-events.js';
import { type DemoHarness, seatsOf, startHarness } from './support/demo-harness.js';

// One trace per booking: the request's server span is the parent of txkit's saga or 2PC span, whose children
// are the per-database work. The SDK keeps the spans in memory, as an application's exporter would send them.
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let h: DemoHarness;
let alice: string;

beforeAll(async () => {
  provider.register();
  h = await startHarness('booking-trace', {}, { traceRequests: true });
  alice = await h.signIn(1);
});
afterAll(async () => {
  await h?.close();
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

const spanId = (s: ReadableSpan) => s.spanContext().spanId;
/** Where a span says it worked: database and server port (the three test databases share a name). */
const whereOf = (s: ReadableSpan) => `${s.attributes['db.namespace']}@${s.attributes['server.port']}`;
/** The same for the harness's databases on instances `names`. */
const databases = (...names: ('a' | 'b' | 'c')[]) =>
  new Set(
    names.map((n) => {
      const url = new URL(h.testDbs.on(n).connectionString);
      return `${url.pathname.slice(1)}@${url.port}`;
    }),
  );
const childrenOf = (parent: ReadableSpan) =>
  exporter.getFinishedSpans().filter((s) => s.parentSpanContext?.spanId === spanId(parent));

/** The first finished span that matches, waited for (spans are exported as they end). */
async function spanWhere(matches: (s: ReadableSpan) => boolean, missing: string): Promise<ReadableSpan> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const span = exporter.getFinishedSpans().find(matches);
    if (span) return span;
    if (Date.now() > deadline) throw new Error(missing);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The request span of the booking `bookingId`: SimpleSpanProcessor exports it when the response has closed. */
function requestSpanOf(bookingId: string): Promise<ReadableSpan> {
  return spanWhere(
    (s) => s.name === 'POST /api/bookings' && s.attributes['cinema.booking.id'] === bookingId,
    `no request span for booking ${bookingId}`,
  );
}

describe('a booking is one trace from the HTTP request to the three databases', () => {
  it('saga: request span → txkit.saga.run → one step span per database', async () => {
    const [seat] = await seatsOf(h.dbs, 1, 1);
    const res = await h.book(alice, { screeningId: 1, seatIds: [seat!], mode: 'saga' });
    expect(res.status).toBe(201);
    const request = await requestSpanOf(res.body.booking.id);
    expect(request.kind).toBe(1); // SERVER
    expect(request.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/api/bookings',
      'http.response.status_code': 201,
      'url.path': '/api/bookings',
    });
    const [run] = childrenOf(request).filter((s) => s.name === 'txkit.saga.run');
    expect(run, 'the saga run is a child of the request').toBeDefined();
    expect(run!.spanContext().traceId).toBe(request.spanContext().traceId);
    const steps = childrenOf(run!).filter((s) => s.name === 'txkit.saga.step');
    expect(steps.map((s) => s.attributes['txkit.step'])).toEqual([
      'reserve-seats',
      'charge-payment',
      'issue-tickets',
      'confirm-booking',
    ]);
    const [seats, payments, tickets] = [...databases('a'), ...databases('b'), ...databases('c')];
    expect(steps.map(whereOf)).toEqual([seats, payments, tickets, seats]);
  });

  it('2PC: request span → txkit.2pc.transaction → statements, prepare and commit per database', async () => {
    const [, seat] = await seatsOf(h.dbs, 1, 2);
    const res = await h.book(alice, { screeningId: 1, seatIds: [seat!], mode: '2pc' });
    expect(res.status).toBe(201);
    const request = await requestSpanOf(res.body.booking.id);
    const [transaction] = childrenOf(request).filter((s) => s.name === 'txkit.2pc.transaction');
    expect(transaction, 'the 2PC transaction is a child of the request').toBeDefined();
    const phases = childrenOf(transaction!);
    const byName = (name: string) => new Set(phases.filter((s) => s.name === name).map(whereOf));
    expect(byName('txkit.2pc.statements')).toEqual(databases('a', 'b', 'c'));
    // The seats database carries the decision (its branch commits with it): the other two prepare and commit.
    expect(byName('txkit.2pc.prepare')).toEqual(databases('b', 'c'));
    expect(byName('txkit.2pc.decision')).toEqual(databases('a'));
    expect(byName('txkit.2pc.commit-prepared')).toEqual(databases('b', 'c'));
    for (const s of phases) expect(s.spanContext().traceId).toBe(request.spanContext().traceId);
  });

  it("the read model's work on the booking's seat event joins the booking's trace, after the bus", async () => {
    const [, , seat] = await seatsOf(h.dbs, 1, 3);
    const res = await h.book(alice, { screeningId: 1, seatIds: [seat!], mode: 'saga' });
    const request = await requestSpanOf(res.body.booking.id);
    const traceId = request.spanContext().traceId;
    // The relay publishes within its poll interval; the read model handles the event in a consumer span.
    const consumer = await spanWhere(
      (s) => s.name === `${SEAT_TOPIC} process` && s.spanContext().traceId === traceId,
      'the read model never handled the seat event in the booking trace',
    );
    expect(consumer.kind).toBe(4); // CONSUMER
    expect(consumer.attributes['messaging.destination.name']).toBe(SEAT_TOPIC);
    // Its parent is the step that wrote the event to the outbox: the seats were sold by reserve-seats.
    const parent = exporter.getFinishedSpans().find((s) => spanId(s) === consumer.parentSpanContext?.spanId);
    expect(parent?.attributes['txkit.step']).toBe('reserve-seats');
  });
});
