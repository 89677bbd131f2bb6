import type { Metadata } from '@grpc/grpc-js';
import type { Cancellation } from '../../core/cancellation.js';
import { type InferDeps, handleInfer } from '../../core/infer-call.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../../protocol/limits.js';
import { decodeModelInferRequest, encodeModelInferResponse } from './codec.js';
import type { ModelInferRequestMsg, ModelInferResponseMsg } from './proto.js';

/** Wire size of a request message, noted by the server's deserializer (see server.ts). */
export const WIRE_BYTES = Symbol('wireBytes');

/** decode -> dataplane.infer -> encode; cancelling drops the request while it is still queued. */
export function inferOnce(
  deps: InferDeps, msg: ModelInferRequestMsg, cancel: Cancellation, metadata: Metadata, limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): Promise<ModelInferResponseMsg> {
  return handleInfer(deps, {
    source: 'grpc',
    model: msg.model_name,
    version: msg.model_version || undefined,
    headers: textMetadata(metadata),
    cancel,
    requestBytes: (msg as ModelInferRequestMsg & { [WIRE_BYTES]?: number })[WIRE_BYTES],
    decode: () => decodeModelInferRequest(msg, limits),
    encode: (res) => encodeModelInferResponse(res),
  });
}

/** gRPC metadata as read-only headers: text entries only (binary `-bin` entries are left out). */
function textMetadata(metadata: Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata.getMap())) if (typeof v === 'string') out[k] = v;
  return out;
}
