import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, trace } from '@opentelemetry/api';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startTracing } from '../src/observability/otlp-tracing.js';

// The OTLP export as the API sets it up, against a stand-in collector that records what it is sent.
const received: { path: string; contentType: string; bytes: number; body: Buffer }[] = [];
const collector = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    received.push({
      path: req.url ?? '',
      contentType: req.headers['content-type'] ?? '',
      bytes: body.length,
      body,
    });
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
afterAll(() => {
  trace.disable();
  context.disable();
  propagation.disable();
  collector.close();
});

describe('OTLP export', () => {
  it('is off without OTEL_EXPORTER_OTLP_ENDPOINT: no SDK, no provider', async () => {
    expect(await startTracing({}, 'cinema-api-test', pino({ level: 'silent' }))).toBeUndefined();
    expect(trace.getTracer('probe').startSpan('nothing').isRecording()).toBe(false);
  });

  it('sends the spans to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces, named by the service, flushed on shutdown', async () => {
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as AddressInfo;
    const tracing = await startTracing(
      { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` },
      'cinema-api-test',
      pino({ level: 'silent' }),
    );
    expect(tracing).toBeDefined();
    trace.getTracer('probe').startSpan('booking-probe').end();
    // Batched: nothing is sent before the flush that shutdown does.
    await tracing!.shutdown();
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ path: '/v1/traces', contentType: 'application/x-protobuf' });
    // Protobuf carries strings as they are: the service name and the span's name are in the body.
    expect(received[0]!.body.includes('cinema-api-test')).toBe(true);
    expect(received[0]!.body.includes('booking-probe')).toBe(true);
  });
});
