import type { Logger } from 'pino';
import { asInferError } from '../protocol/errors.js';
import type { InferRequest, InferResponse } from '../protocol/types.js';
import type { Metrics } from '../telemetry/metrics.js';
import { RequestTrace } from '../telemetry/tracing.js';
import type { Cancellation } from './cancellation.js';
import type { DataPlane } from './dataplane.js';
import type { RequestContext, RequestSource } from './pipeline.js';

/** What every caller of inference shares: the dataplane, metrics and a logger. */
export interface InferDeps {
  dataplane: DataPlane;
  metrics: Metrics;
  log: Logger;
}

/** One inference call as a front end (HTTP, gRPC, a batch job, a stream consumer) describes it. */
export interface InferCall<T> {
  source: RequestSource;
  model: string;
  version: string | undefined;
  /** HTTP headers or gRPC metadata: where an incoming W3C traceparent may be; read-only for steps. */
  headers: RequestContext['headers'];
  cancel?: Cancellation;
  /** Size of the request on the wire, when the caller knows it. */
  requestBytes?: number;
  decode(): InferRequest;
  encode(res: InferResponse, req: InferRequest): T;
  /** Size of the encoded answer, when the caller can tell before sending it. */
  responseBytes?(out: T): number;
}

/**
 * One inference call, whatever brought it: trace span (continuing the caller's trace),
 * decode, dataplane, encode, byte metrics and a debug log line; errors are logged and rethrown
 * for the caller's one error mapping.
 */
export async function handleInfer<T>(deps: InferDeps, call: InferCall<T>): Promise<T> {
  const { model, source } = call;
  const started = process.hrtime.bigint();
  const trace = RequestTrace.start('infer', call.headers, { 'infergate.protocol': source, 'infergate.model': model });
  let id: string | undefined;
  try {
    const req = trace ? await trace.inChild('decode', call.decode) : call.decode();
    id = req.id;
    const ctx: RequestContext = { source, headers: call.headers, cancel: call.cancel, trace };
    const res = await deps.dataplane.infer(model, call.version, req, ctx);
    // Rows by source; a request's rows are its first output's first dimension.
    deps.metrics.rowsBySource.inc({ model, version: res.model_version, source }, res.outputs[0]?.shape[0] ?? 0);
    const out = trace ? await trace.inChild('encode', () => call.encode(res, req)) : call.encode(res, req);
    trace?.end();
    const bytesOut = call.responseBytes?.(out);
    if (call.requestBytes !== undefined) deps.metrics.requestBytes.observe({ model, protocol: source }, call.requestBytes);
    if (bytesOut !== undefined) deps.metrics.responseBytes.observe({ model, protocol: source }, bytesOut);
    if (deps.log.isLevelEnabled('debug')) {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      deps.log.debug({ protocol: source, model, version: res.model_version, id, ms, bytes_in: call.requestBytes, bytes_out: bytesOut }, 'infer');
    }
    return out;
  } catch (err) {
    const e = asInferError(err);
    trace?.end(e);
    // Only models that exist get a metrics label: a name from the URL must not grow the label set.
    if (call.requestBytes !== undefined && deps.dataplane.hasModel(model)) {
      deps.metrics.requestBytes.observe({ model, protocol: source }, call.requestBytes);
    }
    const fields = { protocol: source, model, version: call.version, id, kind: e.kind, err: e.message };
    if (e.kind === 'internal') deps.log.error(fields, 'infer failed');
    else deps.log.debug(fields, 'infer rejected');
    throw e;
  }
}
