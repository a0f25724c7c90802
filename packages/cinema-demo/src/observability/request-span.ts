import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { RequestHandler } from 'express';

/**
 * A server span per HTTP request, following OpenTelemetry's HTTP conventions (`http.request.method`,
 * `http.route`, `url.path`, `http.response.status_code`, …), made the active span for the rest of the request:
 * txkit's spans (a booking's saga or 2PC transaction) start as its children, so one booking is one trace from
 * the request to the three databases. Installed only when an SDK exports traces (see `startTracing`); the
 * official http/express instrumentations need a loader hook under this ESM build, which a few attributes do not
 * justify.
 *
 * @example
 * if (tracing) app.use(requestSpans());
 */
export function requestSpans(): RequestHandler {
  const tracer = trace.getTracer('cinema-demo');
  return (req, res, next) => {
    const span = tracer.startSpan(req.method, {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': req.method,
        'url.path': req.path,
        'url.scheme': req.protocol,
        'server.address': req.hostname,
        'client.address': req.ip,
        'user_agent.original': req.get('user-agent'),
      },
    });
    res.on('close', () => {
      // The route pattern, not the URL: ids stay out of the span name (one name per endpoint).
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : undefined;
      if (route) {
        span.setAttribute('http.route', route);
        span.updateName(`${req.method} ${route}`);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      const bookingId = res.locals.bookingId as string | undefined;
      if (bookingId) span.setAttribute('cinema.booking.id', bookingId);
      // Server spans are errors for 5xx only (a 409 refusal is an answer, not a failure).
      if (res.statusCode >= 500) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.setAttribute('error.type', String(res.statusCode));
      }
      span.end();
    });
    context.with(trace.setSpan(context.active(), span), next);
  };
}
