import { errorCode } from './error-attributes.js';
import { otelApi } from './otel-api.js';

/** Attribute values txkit puts on spans (OpenTelemetry's primitive attribute values). */
export type SpanAttributes = Record<string, string | number | boolean | string[] | undefined>;

/**
 * One unit of txkit's work as a trace span: a 2PC transaction, a participant's phase, a saga run, a step
 * attempt. Without `@opentelemetry/api` (or without a registered SDK) every method is a no-op, so the protocols
 * call it unconditionally.
 *
 * @internal
 */
export interface TxkitSpan {
  /**
   * Adds attributes (undefined values are skipped). `attributes` may be a function, called only when the span
   * is recorded (as for {@link child}).
   */
  set(attributes: SpanAttributes | (() => SpanAttributes)): void;
  /** Marks the span failed: the exception as an event, status ERROR, `error.type` = the error's code or name. */
  fail(error: unknown): void;
  /** Ends the span (once; later calls do nothing). */
  end(): void;
  /** Runs `work` with this span as the active one, so spans started inside (txkit's or the app's) are children. */
  within<T>(work: () => T): T;
  /**
   * Starts a child span of this one. `attributes` may be a function: it is called only when the span is
   * recorded, so untraced runs build no attribute objects on their hot path.
   */
  child(name: string, attributes?: SpanAttributes | (() => SpanAttributes)): TxkitSpan;
  /** Ends the span when `work` settles, failed if it rejects; returns what `work` returns. */
  around<T>(work: (span: TxkitSpan) => Promise<T>): Promise<T>;
}

const TRACER_NAME = 'txkit';

type Tracer = ReturnType<Api['trace']['getTracer']>;
let cached: { provider: ReturnType<Api['trace']['getTracerProvider']>; tracer: Tracer } | undefined;

/**
 * txkit's tracer, fetched once per global provider: the API's proxy tracer follows a provider the application
 * registers later, and a new one is made only after `trace.disable()`.
 */
function tracerOf(api: Api): Tracer {
  const provider = api.trace.getTracerProvider();
  if (cached?.provider !== provider) cached = { provider, tracer: provider.getTracer(TRACER_NAME) };
  return cached.tracer;
}

function defined(
  attributes: SpanAttributes | undefined,
): Record<string, string | number | boolean | string[]> {
  const out: Record<string, string | number | boolean | string[]> = {};
  for (const [key, value] of Object.entries(attributes ?? {})) if (value !== undefined) out[key] = value;
  return out;
}

/**
 * The span of work that is not traced (no OpenTelemetry, or none registered): every method does nothing. Also the
 * initial value of a span field, so that code never checks whether it is traced.
 *
 * @internal
 */
export const untraced: TxkitSpan = {
  set() {},
  fail() {},
  end() {},
  within: (work) => work(),
  child: () => untraced,
  around: (work) => work(untraced),
};

/**
 * Starts a span as a child of `parent`, or of the active context when there is none (a request handler's
 * span, when the application is instrumented), or as a root.
 *
 * @internal
 */
export function startSpan(name: string, attributes?: SpanAttributes, parent?: TxkitSpan): TxkitSpan {
  const api = otelApi();
  if (!api) return untraced;
  const parentContext = parent instanceof OtelSpan ? parent.context : api.context.active();
  const span = tracerOf(api).startSpan(name, { attributes: defined(attributes) }, parentContext);
  // No SDK registered (the API's no-op tracer): nothing to record and no trace context to carry, so this span
  // and its children cost nothing more.
  if (!span.isRecording() && !api.trace.isSpanContextValid(span.spanContext())) return untraced;
  // A sampled-out span skips attribute and error work; it still carries the context, so the sampling decision
  // propagates to children and across RabbitMQ.
  return new OtelSpan(api, span, api.trace.setSpan(parentContext, span), span.isRecording());
}

type Api = NonNullable<ReturnType<typeof otelApi>>;
type Span = ReturnType<ReturnType<Api['trace']['getTracer']>['startSpan']>;
type Context = ReturnType<Api['context']['active']>;

class OtelSpan implements TxkitSpan {
  #ended = false;
  constructor(
    private readonly api: Api,
    private readonly span: Span,
    readonly context: Context,
    private readonly recording: boolean,
  ) {}

  set(attributes: SpanAttributes | (() => SpanAttributes)): void {
    if (this.recording)
      this.span.setAttributes(defined(typeof attributes === 'function' ? attributes() : attributes));
  }

  fail(error: unknown): void {
    if (!this.recording) return;
    const exception = error instanceof Error ? error : new Error(String(error));
    this.span.recordException(exception);
    this.span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: exception.message });
    this.span.setAttribute('error.type', errorCode(error));
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.span.end();
  }

  within<T>(work: () => T): T {
    return this.api.context.with(this.context, work);
  }

  child(name: string, attributes?: SpanAttributes | (() => SpanAttributes)): TxkitSpan {
    return startSpan(name, typeof attributes === 'function' ? attributes() : attributes, this);
  }

  async around<T>(work: (span: TxkitSpan) => Promise<T>): Promise<T> {
    try {
      return await this.within(() => work(this));
    } catch (error) {
      this.fail(error);
      throw error;
    } finally {
      this.end();
    }
  }
}
