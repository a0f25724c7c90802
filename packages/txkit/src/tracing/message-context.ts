import { otelApi } from './otel-api.js';

/** AMQP message headers (amqplib's `properties.headers`). */
type Headers = Record<string, unknown>;

/**
 * Writes the W3C trace context (`traceparent`, `tracestate`) of the active context — a step attempt's span,
 * for txkit — into a message's headers, so the consumer's spans join the producer's trace. Does nothing without
 * OpenTelemetry or without a registered propagator.
 *
 * @internal
 */
export function injectTraceContext(headers: Headers): Headers {
  const api = otelApi();
  if (api) api.propagation.inject(api.context.active(), headers);
  return headers;
}

/**
 * Runs `work` in the trace context carried by a message's headers (its `traceparent`), so spans started inside
 * — the handler's, txkit's — continue the producer's trace.
 *
 * @internal
 */
export function withTraceContextOf<T>(headers: Headers | undefined, work: () => T): T {
  const api = otelApi();
  if (!api || !headers) return work();
  const carrier: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (typeof value === 'string') carrier[key] = value;
    else if (Buffer.isBuffer(value)) carrier[key] = value.toString('utf8'); // amqplib may hand back long strings as bytes
  }
  return api.context.with(api.propagation.extract(api.context.active(), carrier), work);
}
