import type { Deadline } from '@grpc/grpc-js';
import { Cancellation } from '../../core/cancellation.js';
import { InferError } from '../../protocol/errors.js';

/** What a handler needs from a gRPC call to know when to give up on it. */
interface CallLike {
  readonly cancelled: boolean;
  getDeadline(): Deadline;
  on(event: 'cancelled', listener: () => void): unknown;
  removeListener(event: 'cancelled', listener: () => void): unknown;
}

/** A cancellation for one call's requests, plus the cleanup to run once it is answered. */
export interface CallCancellation {
  cancel: Cancellation;
  dispose(): void;
}

/** Milliseconds since the epoch at which the call's deadline passes, or Infinity. */
function deadlineMs(call: CallLike): number {
  const d = call.getDeadline();
  return d instanceof Date ? d.getTime() : d;
}

const deadlineError = (): InferError =>
  new InferError('deadline_exceeded', 'Deadline Exceeded while queued; the request was not computed');

/**
 * Aborts when the client's deadline passes or the call is cancelled. The batcher drops an
 * aborted request that is still queued, so a request whose client has given up is never
 * computed; one already running finishes and its answer is discarded.
 */
export function callCancellation(call: CallLike): CallCancellation {
  // A stream shares one cancellation among all its queued requests.
  const cancel = new Cancellation();
  const deadline = deadlineMs(call);
  let timer: NodeJS.Timeout | undefined;
  // grpc-js may notice the deadline first and report it as a cancellation: tell them apart by the clock.
  const onCancelled = () => cancel.cancel(Date.now() >= deadline ? deadlineError() : new InferError('cancelled', 'request cancelled by the client'));
  if (call.cancelled) onCancelled();
  else call.on('cancelled', onCancelled);
  if (Number.isFinite(deadline) && !cancel.reason) {
    const ms = deadline - Date.now();
    if (ms <= 0) cancel.cancel(deadlineError());
    else timer = setTimeout(() => cancel.cancel(deadlineError()), ms);
  }
  return {
    cancel,
    dispose: () => {
      if (timer) clearTimeout(timer);
      call.removeListener('cancelled', onCancelled);
    },
  };
}
