import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { InferDeps } from '../../core/infer-call.js';
import { clipMessage } from '../../protocol/clip.js';
import { asInferError } from '../../protocol/errors.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../../protocol/limits.js';
import { callCancellation } from './call-cancellation.js';
import { inferOnce } from './infer.js';
import type { ModelInferRequestMsg, ModelStreamInferResponseMsg } from './proto.js';

type StreamCall = ServerDuplexStream<ModelInferRequestMsg, ModelStreamInferResponseMsg>;

/** Requests in flight plus answers not yet taken by the client, per stream, before reading stops (--grpc-stream-max-pending). */
export const DEFAULT_STREAM_MAX_PENDING = 128;

/**
 * Triton's ModelStreamInfer: every request on the stream runs concurrently (so they can
 * share batches), each answer carries its request's id, and a failed request answers with
 * error_message while the stream stays open. The stream ends once the client has half-closed
 * and every answer is written.
 *
 * Backpressure: a request counts as pending from the moment it is read until its answer has
 * gone to the transport (a write's callback fires only once HTTP/2 flow control let it out).
 * At maxPending the stream is paused: grpc-js stops reading it, HTTP/2 flow control stops the
 * client's sends, and a client that never reads holds at most maxPending answers here.
 */
export function streamInferHandler(
  deps: InferDeps, limits: DecodeLimits = DEFAULT_DECODE_LIMITS, maxPending = DEFAULT_STREAM_MAX_PENDING,
): (call: StreamCall) => void {
  return (call) => {
    // One cancellation for the stream: its deadline and cancellation apply to every request on it.
    const { cancel, dispose } = callCancellation(call);
    let pending = 0;
    let paused = false;
    let clientDone = false;
    const finishIfDone = () => {
      if (!clientDone || pending > 0) return;
      dispose();
      if (!call.cancelled) call.end();
    };
    const settled = () => {
      pending--;
      if (paused && pending < maxPending) {
        paused = false;
        call.resume();
      }
      finishIfDone();
    };
    call.on('data', (msg: ModelInferRequestMsg) => {
      pending++;
      if (pending >= maxPending && !paused) {
        paused = true;
        call.pause();
      }
      inferOnce(deps, msg, cancel, call.metadata, limits).then(
        (infer_response) => ({ error_message: '', infer_response }),
        (err: unknown) => ({
          error_message: clipMessage(asInferError(err).message),
          // Identify the failed request so the client can match the error to it.
          infer_response: {
            model_name: msg.model_name, model_version: msg.model_version, id: msg.id,
            outputs: [], raw_output_contents: [],
          },
        }),
      ).then((answer: ModelStreamInferResponseMsg) => {
        if (call.cancelled || call.writableEnded) return settled();
        call.write(answer, () => settled());
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
      // Writes to a cancelled call may never complete: release its timer and listeners now.
      dispose();
      finishIfDone();
    });
  };
}
