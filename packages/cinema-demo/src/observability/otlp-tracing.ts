import type { Logger } from 'pino';

/** The OpenTelemetry SDK this process registered, and how to flush and stop it. */
export interface Tracing {
  /** Exports the spans still buffered and stops the SDK (bounded by the exporter's own timeout). */
  shutdown(): Promise<void>;
}

/** Whether the standard OTLP variables ask for trace export. */
export function otlpRequested(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Where the spans go, by the specification's rule: the traces endpoint as given, else the base endpoint with
 * `/v1/traces`. Computed from `env` (the exporter alone would read `process.env`, which `npm start` extends).
 */
function tracesUrl(env: NodeJS.ProcessEnv): string {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  return traces || `${(env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '').replace(/\/+$/, '')}/v1/traces`;
}

/**
 * Registers the OpenTelemetry SDK with an OTLP (HTTP/protobuf) exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set in `env`; the exporter reads the other standard variables itself
 * from the process's environment (headers, timeout, compression). Unset, nothing is loaded: the SDK packages are imported only here, on demand, so an
 * untraced instance pays nothing, and txkit's spans stay no-ops. The service is named per instance
 * (`OTEL_SERVICE_NAME`, else `cinema-api-<instance>`), so Jaeger tells the instances behind HAProxy apart.
 *
 * @example
 * const tracing = await startTracing(process.env, 'cinema-api-1', logger);
 * // ... on SIGTERM:
 * await tracing?.shutdown();
 */
export async function startTracing(
  env: NodeJS.ProcessEnv,
  serviceName: string,
  logger: Logger,
): Promise<Tracing | undefined> {
  if (!otlpRequested(env)) return undefined;
  const [
    { NodeTracerProvider, BatchSpanProcessor },
    { OTLPTraceExporter },
    { resourceFromAttributes },
    { ATTR_SERVICE_NAME },
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME || serviceName,
    }),
    // Batched: spans leave in the background, never on a booking's path.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(env) }))],
  });
  // The async-hooks context manager (a request's span is the parent of txkit's) and the W3C propagator.
  provider.register();
  logger.info({ endpoint: tracesUrl(env), serviceName }, 'exporting traces over OTLP');
  return {
    async shutdown() {
      try {
        await provider.shutdown();
      } catch (error) {
        logger.warn({ err: error }, 'flushing the last spans failed; they are lost');
      }
    },
  };
}
