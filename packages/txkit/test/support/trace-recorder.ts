import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** Spans recorded by an in-memory OpenTelemetry SDK, and how to read them as a tree. */
export interface TraceRecorder {
  /** Every finished span so far. */
  spans(): ReadableSpan[];
  /** The finished spans named `name`. */
  named(name: string): ReadableSpan[];
  /** The finished children of `parent`, in start order. */
  childrenOf(parent: ReadableSpan): ReadableSpan[];
  /** Forgets the spans recorded so far. */
  reset(): void;
  /** Unregisters the SDK (the OpenTelemetry globals outlive a test file in the same worker). */
  stop(): Promise<void>;
}

/** Registers an OpenTelemetry SDK that keeps finished spans in memory, as an application's SDK would. */
export function recordTraces(): TraceRecorder {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  const spans = () => exporter.getFinishedSpans();
  return {
    spans,
    named: (name) => spans().filter((s) => s.name === name),
    childrenOf: (parent) =>
      spans()
        .filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId)
        .sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]),
    reset: () => exporter.reset(),
    async stop() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
