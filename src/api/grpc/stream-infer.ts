import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { InferDeps } from '../../core/infer-call.js';
import { asInferError } from '../../protocol/errors.js';
import { callCancellation } from './call-cancellation.js';
import { inferOnce } from './infer.js';
import type { ModelInferRequestMsg, ModelStreamInferResponseMsg } from './proto.js';

type StreamCall = ServerDuplexStream<ModelInferRequestMsg, ModelStreamInferResponseMsg>;

/**
 * Triton's ModelStreamInfer: every request on the stream runs concurrently (so they can
 * share batches), each answer carries its request's id, and a failed request answers with
 * error_message while the stream stays open. The stream ends once the client has half-closed
 * and every answer is written.
 */
export function streamInferHandler(deps: InferDeps): (call: StreamCall) => void {
  return (call) => {
    // One cancellation for the stream: its deadline and cancellation apply to every request on it.
    const { cancel, dispose } = callCancellation(call);
    let pending = 0;
    let clientDone = false;
    const finishIfDone = () => {
      if (!clientDone || pending > 0) return;
      dispose();
      if (!call.cancelled) call.end();
    };
    call.on('data', (msg: ModelInferRequestMsg) => {
      pending++;
      inferOnce(deps, msg, cancel, call.metadata).then(
        (infer_response) => ({ error_message: '', infer_response }),
        (err: unknown) => ({
          error_message: asInferError(err).message,
          // Identify the failed request so the client can match the error to it.
          infer_response: {
            model_name: msg.model_name, model_version: msg.model_version, id: msg.id,
            outputs: [], raw_output_contents: [],
          },
        }),
      ).then((answer: ModelStreamInferResponseMsg) => {
        pending--;
        if (!call.cancelled) call.write(answer);
        finishIfDone();
      });
    });
    call.on('end', () => {
      clientDone = true;
      finishIfDone();
    });
    // A transport error ends the call; queued requests see 'cancelled' through the stream's cancellation.
    call.on('error', () => {});
    call.on('cancelled', () => {
      clientDone = true;
      finishIfDone();
    });
  };
}
