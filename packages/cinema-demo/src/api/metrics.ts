import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The API's Prometheus metrics, on a registry of its own (several apps can live in one test process). */
export interface ApiMetrics {
  registry: Registry;
  bookingOutcome(mode: string, outcome: string, seconds: number): void;
  httpRequest(method: string, route: string, status: number, seconds: number): void;
}

/**
 * Creates the metrics: bookings by mode and outcome, booking latency per mode, HTTP latency, and in-doubt and
 * stuck counts read from the engine at scrape time.
 *
 * @example
 * const metrics = createMetrics(() => engine.counts());
 * res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
 */
export function createMetrics(counts: () => Promise<{ inDoubt: number; stuck: number }>): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const bookings = new Counter({
    name: 'cinema_bookings_total',
    help: 'Booking attempts by mode and outcome (confirmed or the rejection reason)',
    labelNames: ['mode', 'outcome'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'cinema_booking_duration_seconds',
    help: 'Time to the booking outcome, by mode and outcome',
    labelNames: ['mode', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const http = new Histogram({
    name: 'cinema_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const inDoubt = new Gauge({
    name: 'cinema_in_doubt_transactions',
    help: 'Prepared 2PC transactions not yet resolved',
    registers: [registry],
  });
  const stuck = new Gauge({
    name: 'cinema_stuck_sagas',
    help: 'Sagas that are unfinished past their lease or gave up compensating',
    registers: [registry],
    // Read at scrape time only; a scrape must not fail because a database is briefly down.
    async collect() {
      const c = await counts().catch(() => undefined);
      if (!c) return;
      this.set(c.stuck);
      inDoubt.set(c.inDoubt);
    },
  });
  void stuck;
  return {
    registry,
    bookingOutcome(mode, outcome, seconds) {
      bookings.inc({ mode, outcome });
      latency.observe({ mode, outcome }, seconds);
    },
    httpRequest(method, route, status, seconds) {
      http.observe({ method, route, status: String(status) }, seconds);
    },
  };
}
