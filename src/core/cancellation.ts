import { InferError } from '../protocol/errors.js';

/**
 * A caller giving up on its requests (client gone, gRPC deadline or cancel). Much cheaper
 * than an AbortController per request (EventTarget costs microseconds on the hot path), and
 * one can serve many requests (every request of a gRPC stream).
 */
export class Cancellation {
  /** Set once cancelled: the error the still-queued requests fail with. */
  reason: InferError | undefined;
  private readonly listeners = new Set<() => void>();

  /** Cancels once; queued requests that watch this are dropped with `reason`. */
  cancel(reason: InferError = new InferError('cancelled', 'request cancelled by the client')): void {
    if (this.reason) return;
    this.reason = reason;
    for (const l of [...this.listeners]) l();
    this.listeners.clear();
  }

  /** Calls `listener` on cancel; returns the function that stops watching. */
  watch(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
