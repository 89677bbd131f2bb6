import type { DataPlane } from '../../core/dataplane.js';
import { decodeModelInferRequest, encodeModelInferResponse } from './codec.js';
import type { ModelInferRequestMsg, ModelInferResponseMsg } from './proto.js';

/** decode -> dataplane.infer -> encode; signal aborts the request while it is still queued. */
export async function inferOnce(dataplane: DataPlane, msg: ModelInferRequestMsg, signal: AbortSignal): Promise<ModelInferResponseMsg> {
  const req = decodeModelInferRequest(msg);
  const res = await dataplane.infer(msg.model_name, msg.model_version || undefined, req, { signal });
  return encodeModelInferResponse(res);
}
