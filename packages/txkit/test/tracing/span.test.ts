import { SpanStatusCode, trace } from '@opentelemetry/api';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { injectTraceContext, withTraceContextOf } from '../../src/tracing/message-context.js';
import { startSpan } from '../../src/tracing/span.js';
import { recordTraces } from '../support/trace-recorder.js';

const recorder = recordTraces();
afterAll(() => recorder.stop());
beforeEach(() => recorder.reset());

describe('txkit spans', () => {
  it('nest children under their parent and the active span under the current context', async () => {
    const app = trace.getTracer('app');
    await app.startActiveSpan('request', async (request) => {
      const run = startSpan('txkit.saga.run', { 'txkit.saga.name': 'book', skipped: undefined });
      await run.around(async (span) => {
        span.child('txkit.saga.step', { 'txkit.step': 'seat' }).end();
        // Inside `within`, the application's own spans are children of txkit's.
        app.startSpan('SELECT').end();
      });
      request.end();
    });
    const [request] = recorder.named('request');
    const [run] = recorder.named('txkit.saga.run');
    expect(run!.parentSpanContext?.spanId).toBe(request!.spanContext().spanId);
    expect(run!.attributes).toEqual({ 'txkit.saga.name': 'book' });
    expect(recorder.childrenOf(run!).map((s) => s.name)).toEqual(['txkit.saga.step', 'SELECT']);
    expect(run!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('record a failure with its code as error.type and end once', async () => {
    const span = startSpan('txkit.2pc.transaction');
    const failure = Object.assign(new Error('no money'), { code: 'PREPARE_FAILED' });
    await expect(span.around(() => Promise.reject(failure))).rejects.toBe(failure);
    span.end();
    const [recorded] = recorder.named('txkit.2pc.transaction');
    expect(recorder.spans()).toHaveLength(1);
    expect(recorded!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'no money' });
    expect(recorded!.attributes['error.type']).toBe('PREPARE_FAILED');
    expect(recorded!.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('carry the trace across message headers, also when a header arrives as bytes', () => {
    const producer = startSpan('txkit.saga.step');
    const headers = producer.within(() => injectTraceContext({ 'x-other': 1 }));
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const asBytes = { traceparent: Buffer.from(String(headers.traceparent)) };
    withTraceContextOf(asBytes, () => startSpan('txkit.remote.handle').end());
    producer.end();
    const [handled] = recorder.named('txkit.remote.handle');
    expect(handled!.spanContext().traceId).toBe(recorder.named('txkit.saga.step')[0]!.spanContext().traceId);
    expect(handled!.parentSpanContext?.spanId).toBe(
      recorder.named('txkit.saga.step')[0]!.spanContext().spanId,
    );
  });
});
