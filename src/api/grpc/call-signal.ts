import { setMaxListeners } from 'node:events';
import type { Deadline } from '@grpc/grpc-js';
import { InferError } from '../../protocol/errors.js';

/** What a handler needs from a gRPC call to know when to give up on it. */
interface CallLike {
  readonly cancelled: boolean;
  getDeadline(): Deadline;
  on(event: 'cancelled', listener: () => void): unknown;
  removeListener(event: 'cancelled', listener: () => void): unknown;
}

/** An abort signal for one request, plus the cleanup to run once it is answered. */
export interface CallSignal {
  signal: AbortSignal;
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
export function callSignal(call: CallLike): CallSignal {
  const ac = new AbortController();
  // A stream shares one signal among all its queued requests: each adds a listener.
  setMaxListeners(0, ac.signal);
  const deadline = deadlineMs(call);
  let timer: NodeJS.Timeout | undefined;
  // grpc-js may notice the deadline first and report it as a cancellation: tell them apart by the clock.
  const onCancelled = () => ac.abort(Date.now() >= deadline ? deadlineError() : new InferError('cancelled', 'request cancelled by the client'));
  if (call.cancelled) onCancelled();
  else call.on('cancelled', onCancelled);
  if (Number.isFinite(deadline) && !ac.signal.aborted) {
    const ms = deadline - Date.now();
    if (ms <= 0) ac.abort(deadlineError());
    else timer = setTimeout(() => ac.abort(deadlineError()), ms);
  }
  return {
    signal: ac.signal,
    dispose: () => {
      if (timer) clearTimeout(timer);
      call.removeListener('cancelled', onCancelled);
    },
  };
}
