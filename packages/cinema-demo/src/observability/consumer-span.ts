import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { BusMessage } from 'txkit/outbox';

/**
 * Runs a bus message's handler in a consumer span that continues the trace the message carries: the outbox row of
 * a seat change holds the W3C `traceparent` of the booking step that wrote it, so the read model's work shows in
 * the booking's trace, after the hop through RabbitMQ (or the in-process bus). Messaging attributes per
 * OpenTelemetry's conventions. Without a registered SDK the span is a no-op.
 *
 * @example
 * await bus.subscribe({ queue, topics }, (m) => inConsumerSpan(m, queue, () => apply(m.payload)));
 */
export async function inConsumerSpan<T>(
  message: BusMessage,
  queue: string,
  work: () => Promise<T>,
): Promise<T> {
  const parent = propagation.extract(context.active(), message.headers);
  const span = trace.getTracer('cinema-demo').startSpan(
    `${message.topic} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.operation.type': 'process',
        'messaging.destination.name': message.topic,
        'messaging.consumer.group.name': queue,
        'messaging.message.id': message.messageId,
      },
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), work);
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
