import { InferError } from '../protocol/errors.js';

/**
 * A caller giving up on its requests (client gone, gRPC deadline or cancel). Much cheaper
 * than an AbortController per request (EventTarget costs microseconds on the hot path), and
 * one can serve many requests (every request of a gRPC stream).
 */
export class Cancellation {
  /** Set once cancelled: the error the still-queued requests fail with. */
  reason: InferError | undefined;
  /** Made on first watch: most requests are never cancelled, and an HTTP one has one watcher. */
  private listeners: Set<() => void> | undefined;

  /** Cancels once; queued requests that watch this are dropped with `reason`. */
  cancel(reason: InferError = new InferError('cancelled', 'request cancelled by the client')): void {
    if (this.reason) return;
    this.reason = reason;
    const ls = this.listeners;
    this.listeners = undefined;
    ls?.forEach((l) => l());
  }

  /** Calls `listener` on cancel; returns the function that stops watching. */
  watch(listener: () => void): () => void {
    (this.listeners ??= new Set()).add(listener);
    return () => this.listeners?.delete(listener);
  }
}
