/** A batch longer than this (typical wall time) counts as long work for slot reservation. */
const LONG_BATCH_NS = 2_000_000;
/** Short work seen within this window keeps one worker reserved for it. */
const SHORT_WORK_WINDOW_MS = 1000;

/** Something that wants a worker; the scheduler calls pump() when one frees up. */
export interface SlotWaiter {
  pump(): void;
  /** Typical batch time (ns): waiters with short batches are served first. */
  readonly expectedBatchNs: number;
}

/** What a batcher sees of a worker pool: slots to take and give back. */
export interface SlotSource {
  /** Takes a slot if one is free; otherwise remembers the waiter and calls it back later. */
  tryAcquire(waiter: SlotWaiter): boolean;
  /** Gives a slot back. */
  releaseSlot(): void;
}

/**
 * Hands out a pool's worker slots. Batchers dispatch only when a slot is free, so work waits
 * in the batchers' queues, where it can still join a batch, rather than in the pool's.
 * Pure bookkeeping: no threads, so it is tested on its own.
 */
export class SlotScheduler implements SlotSource {
  private busy = 0;
  private readonly waiting = new Set<SlotWaiter>();
  /** When each waiter with short batches last took a slot (ms since epoch). */
  private readonly shortServed = new Map<SlotWaiter, number>();

  constructor(readonly size: number) {}

  /** Slots free right now. */
  get free(): number {
    return this.size - this.busy;
  }

  /** Slots taken (for utilisation metrics). */
  get active(): number {
    return this.busy;
  }

  /**
   * A model with long batches may not take the last free worker while a model with short
   * batches has been served recently: that worker stays free for the short work, so a fast
   * model's latency never waits out a slow model's batch (the isolation the event loop
   * already gives HTTP, extended to the workers).
   */
  tryAcquire(waiter: SlotWaiter): boolean {
    const now = Date.now();
    const long = waiter.expectedBatchNs > LONG_BATCH_NS;
    const reserve = long && this.size > 1 && this.busy === this.size - 1 && this.shortWorkSince(now - SHORT_WORK_WINDOW_MS, waiter);
    if (this.busy < this.size && !reserve) {
      this.busy++;
      if (!long) this.shortServed.set(waiter, now);
      return true;
    }
    this.waiting.add(waiter);
    return false;
  }

  /** Whether another waiter with short batches took a slot after `since` (ms). */
  private shortWorkSince(since: number, except: SlotWaiter): boolean {
    for (const [w, at] of this.shortServed) {
      if (at < since) this.shortServed.delete(w);
      else if (w !== except) return true;
    }
    return false;
  }

  /**
   * Gives a slot back and offers it to the waiting batchers, shortest typical batch first,
   * so a fast model is not stuck behind a slow one's long batches.
   */
  releaseSlot(): void {
    this.busy--;
    if (this.waiting.size === 0) return;
    const order = [...this.waiting].sort((a, b) => a.expectedBatchNs - b.expectedBatchNs);
    for (const w of order) {
      if (this.busy >= this.size) return;
      this.waiting.delete(w);
      w.pump();
    }
  }
}
