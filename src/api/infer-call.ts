import type { FastifyBaseLogger } from 'fastify';
import type { Cancellation } from '../core/cancellation.js';
import type { DataPlane } from '../core/dataplane.js';
import { asInferError } from '../protocol/errors.js';
import type { InferRequest, InferResponse } from '../protocol/types.js';
import type { Metrics } from '../telemetry/metrics.js';
import { RequestTrace } from '../telemetry/tracing.js';

/** What every protocol's inference handler shares: the dataplane, metrics and a logger. */
export interface InferDeps {
  dataplane: DataPlane;
  metrics: Metrics;
  log: FastifyBaseLogger;
}

export interface InferCall<T> {
  protocol: 'http' | 'grpc';
  model: string;
  version: string | undefined;
  /** Where an incoming W3C traceparent may be (HTTP headers, gRPC metadata). */
  carrier: Record<string, unknown>;
  cancel?: Cancellation;
  /** Size of the request on the wire, when the protocol layer knows it. */
  requestBytes?: number;
  decode(): InferRequest;
  encode(res: InferResponse, req: InferRequest): T;
  /** Size of the encoded answer, when the protocol layer can tell before sending it. */
  responseBytes?(out: T): number;
}

/**
 * One inference call, whatever the protocol: trace span (continuing the caller's trace),
 * decode, dataplane, encode, byte metrics and a debug log line; errors are logged and rethrown
 * for the protocol layer's one error mapping.
 */
export async function handleInfer<T>(deps: InferDeps, call: InferCall<T>): Promise<T> {
  const { model, protocol } = call;
  const started = process.hrtime.bigint();
  const trace = RequestTrace.start('infer', call.carrier, { 'infergate.protocol': protocol, 'infergate.model': model });
  let id: string | undefined;
  try {
    const req = trace ? await trace.inChild('decode', call.decode) : call.decode();
    id = req.id;
    const res = await deps.dataplane.infer(model, call.version, req, { cancel: call.cancel, trace });
    const out = trace ? await trace.inChild('encode', () => call.encode(res, req)) : call.encode(res, req);
    trace?.end();
    const bytesOut = call.responseBytes?.(out);
    if (call.requestBytes !== undefined) deps.metrics.requestBytes.observe({ model, protocol }, call.requestBytes);
    if (bytesOut !== undefined) deps.metrics.responseBytes.observe({ model, protocol }, bytesOut);
    if (deps.log.level === 'debug' || deps.log.level === 'trace') {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      deps.log.debug({ protocol, model, version: res.model_version, id, ms, bytes_in: call.requestBytes, bytes_out: bytesOut }, 'infer');
    }
    return out;
  } catch (err) {
    const e = asInferError(err);
    trace?.end(e);
    // Only models that exist get a metrics label: a name from the URL must not grow the label set.
    if (call.requestBytes !== undefined && deps.dataplane.hasModel(model)) {
      deps.metrics.requestBytes.observe({ model, protocol }, call.requestBytes);
    }
    const fields = { protocol, model, version: call.version, id, kind: e.kind, err: e.message };
    if (e.kind === 'internal') deps.log.error(fields, 'infer failed');
    else deps.log.debug(fields, 'infer rejected');
    throw e;
  }
}
