import {
  type Attributes, type Context, type Link, type Span, type TextMapGetter,
  ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace,
} from '@opentelemetry/api';
import { VERSION } from '../version.js';

/**
 * OpenTelemetry tracing: off unless the standard OTEL_* variables ask for it. When off,
 * no span objects are made at all, so the hot path pays one boolean check.
 */
let enabled = false;
const tracer = () => trace.getTracer('infergate', VERSION);

/** Turns span creation on or off (tests use this with an in-memory exporter). */
export function setTracingEnabled(on: boolean): void {
  enabled = on;
}

export function tracingEnabled(): boolean {
  return enabled;
}

/** True when the environment asks for traces (an exporter or OTLP endpoint is named). */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  const exporter = env.OTEL_TRACES_EXPORTER;
  if (exporter !== undefined) return exporter !== 'none' && exporter !== '';
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Starts the OpenTelemetry Node SDK with an OTLP/HTTP trace exporter when the environment
 * asks for it (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER[_ARG], ...).
 * Returns a function that flushes and stops it, or undefined when tracing stays off.
 */
export async function startTracingFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<(() => Promise<void>) | undefined> {
  if (!tracingRequested(env)) return undefined;
  const [{ NodeSDK }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  if (!env.OTEL_SERVICE_NAME) env.OTEL_SERVICE_NAME = 'infergate';
  // No auto-instrumentation: the spans that matter (decode, queue, compute, encode) are ours.
  const sdk = new NodeSDK({ traceExporter: new OTLPTraceExporter(), instrumentations: [] });
  sdk.start();
  enabled = true;
  return async () => {
    enabled = false;
    await sdk.shutdown();
  };
}

const headerGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (c) => Object.keys(c),
  get: (c, key) => {
    const v = c[key];
    if (Array.isArray(v)) return v.map(String);
    return v === undefined ? undefined : String(v);
  },
};

/** One inference request's span and its children; created only when tracing is on. */
export class RequestTrace {
  private constructor(
    readonly span: Span,
    readonly context: Context,
  ) {}

  /**
   * Starts the request span, continuing an incoming W3C traceparent found in `carrier`
   * (HTTP headers or gRPC metadata as a plain object).
   */
  static start(name: string, carrier: Record<string, unknown>, attributes: Attributes = {}): RequestTrace | undefined {
    if (!enabled) return undefined;
    const parent = propagation.extract(ROOT_CONTEXT, carrier, headerGetter);
    const span = tracer().startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    return new RequestTrace(span, trace.setSpan(parent, span));
  }

  /** A child span of this request (decode, queue wait, compute, encode). */
  child(name: string, attributes: Attributes = {}, links: Link[] = []): Span {
    return tracer().startSpan(name, { attributes, links }, this.context);
  }

  /** Runs fn inside a child span, ending it (with the error, if any) when fn settles. */
  async inChild<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    const s = this.child(name);
    try {
      return await fn();
    } catch (err) {
      fail(s, err);
      throw err;
    } finally {
      s.end();
    }
  }

  end(err?: unknown): void {
    if (err !== undefined) fail(this.span, err);
    this.span.end();
  }
}

/** A span for one executed batch, linked to every request span that shared it. */
export function startBatchSpan(requests: (RequestTrace | undefined)[], attributes: Attributes): Span | undefined {
  if (!enabled) return undefined;
  const links: Link[] = [];
  for (const r of requests) if (r) links.push({ context: r.span.spanContext() });
  return tracer().startSpan('batch compute', { kind: SpanKind.INTERNAL, attributes, links }, ROOT_CONTEXT);
}

export function fail(span: Span, err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
}
