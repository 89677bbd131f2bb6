import type { DynamicBatching } from '../config/model-config.js';
import { InferError, invalid, unavailable } from '../protocol/errors.js';
import type { SlotWaiter, WorkerPool } from './pool.js';

/** One request waiting in a batcher's queue. */
export interface QueuedRequest<T> {
  /** Rows this request contributes (its batch dimension; 1 when the model does not batch). */
  rows: number;
  /** Requests share a batch only when these agree (non-batch dims, datatypes, outputs). */
  shapeKey: string;
  payload: T;
  /** Set by the batcher: when it was queued and when it left the queue (ns, hrtime). */
  enqueuedNs: bigint;
  dispatchedNs: bigint;
}

export interface BatcherOptions<T> {
  /** 0: the model does not batch; each request runs alone. */
  maxBatchSize: number;
  batching: DynamicBatching;
  /** At most this many batches of this model run at once (instance_group count). */
  maxInFlight: number;
  pool: WorkerPool;
  /** Runs a formed batch; settles every request in it. */
  execute(batch: QueuedRequest<T>[]): Promise<void>;
}

export interface EnqueueOptions {
  /** Request `priority` parameter: 0 = default level. */
  priority?: number;
  /** Request `timeout` parameter, microseconds (may only lower the queue policy's default). */
  timeoutUs?: number;
  /** Aborts (client gone, gRPC deadline) remove the request if it is still queued. */
  signal?: AbortSignal;
}

type Entry<T> = QueuedRequest<T> & {
  level: number;
  settle: { resolve: () => void; reject: (e: InferError) => void };
  timer?: NodeJS.Timeout;
  onAbort?: () => void;
  signal?: AbortSignal;
};

/**
 * Triton-style dynamic batcher for one model version: requests queue here (by priority
 * level, FIFO within a level) and leave as a batch when a pool slot is free.
 */
export class DynamicBatcher<T> implements SlotWaiter {
  private readonly levels: Entry<T>[][];
  private queued = 0;
  private inFlight = 0;
  private delayTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: BatcherOptions<T>) {
    this.levels = Array.from({ length: Math.max(1, opts.batching.priority_levels) }, () => []);
  }

  /** Requests waiting, and batches running. */
  get depth(): { queued: number; inFlight: number } {
    return { queued: this.queued, inFlight: this.inFlight };
  }

  /**
   * Queues a request; resolves once its batch has run (the payload then holds the result),
   * rejects when the queue is full, its timeout passes or it is aborted while queued.
   */
  enqueue(payload: T, rows: number, shapeKey: string, opts: EnqueueOptions = {}): Promise<void> {
    const { batching, maxBatchSize } = this.opts;
    const policy = batching.default_queue_policy;
    if (maxBatchSize > 0 && rows > maxBatchSize) {
      throw invalid(`inference request batch-size ${rows} must be <= max_batch_size ${maxBatchSize}`);
    }
    const level = this.levelOf(opts.priority ?? 0);
    if (policy.max_queue_size > 0 && this.queued >= policy.max_queue_size) {
      throw unavailable('Exceeds maximum queue size');
    }
    if (opts.signal?.aborted) throw abortError(opts.signal);
    let timeoutUs = policy.default_timeout_microseconds;
    if (opts.timeoutUs !== undefined && policy.allow_timeout_override && opts.timeoutUs > 0) {
      timeoutUs = timeoutUs === 0 ? opts.timeoutUs : Math.min(timeoutUs, opts.timeoutUs);
    }
    return new Promise<void>((resolve, reject) => {
      const e: Entry<T> = {
        rows, shapeKey, payload, level, settle: { resolve, reject },
        enqueuedNs: process.hrtime.bigint(), dispatchedNs: 0n, signal: opts.signal,
      };
      if (timeoutUs > 0) {
        e.timer = setTimeout(() => this.drop(e, unavailable('Request timeout expired')), Math.max(1, timeoutUs / 1000));
      }
      if (opts.signal) {
        const signal = opts.signal;
        e.onAbort = () => this.drop(e, abortError(signal));
        signal.addEventListener('abort', e.onAbort, { once: true });
      }
      this.levels[level].push(e);
      this.queued++;
      this.pump();
    });
  }

  /** Resolves when nothing is queued or running (used when unloading and draining). */
  idle(): Promise<void> {
    if (this.queued === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private levelOf(priority: number): number {
    const { priority_levels, default_priority_level } = this.opts.batching;
    if (!Number.isSafeInteger(priority) || priority < 0) throw invalid(`priority must be a non-negative integer, got ${priority}`);
    if (priority_levels === 0) {
      if (priority > 0) throw invalid(`priority ${priority} given but the model has no priority levels`);
      return 0;
    }
    if (priority > priority_levels) throw invalid(`priority ${priority} exceeds the model's ${priority_levels} priority levels`);
    return (priority === 0 ? default_priority_level : priority) - 1;
  }

  /** Removes a still-queued request and fails it. */
  private drop(e: Entry<T>, err: InferError): void {
    const q = this.levels[e.level];
    const i = q.indexOf(e);
    if (i < 0) return;
    q.splice(i, 1);
    this.queued--;
    this.detach(e);
    e.settle.reject(err);
    this.checkIdle();
  }

  private detach(e: Entry<T>): void {
    if (e.timer) clearTimeout(e.timer);
    if (e.onAbort) e.signal?.removeEventListener('abort', e.onAbort);
  }

  private head(): Entry<T> | undefined {
    for (const q of this.levels) if (q.length) return q[0];
    return undefined;
  }

  /** Dispatches batches while requests wait, this model may run more, and the pool has a slot. */
  pump(): void {
    while (this.queued > 0 && this.inFlight < this.opts.maxInFlight) {
      const head = this.head()!;
      const waitMs = this.waitFor(head);
      if (waitMs > 0) {
        if (!this.delayTimer) {
          this.delayTimer = setTimeout(() => {
            this.delayTimer = undefined;
            this.pump();
          }, waitMs);
        }
        return;
      }
      if (!this.opts.pool.tryAcquire(this)) return;
      this.dispatch(this.form(head));
    }
  }

  /** Milliseconds to keep waiting for more rows before sending the head's batch; 0 = go now. */
  private waitFor(head: Entry<T>): number {
    const { max_queue_delay_microseconds: delayUs, preferred_batch_size: preferred } = this.opts.batching;
    const max = this.opts.maxBatchSize;
    // A lone client never pays the delay, and a model that does not batch has nothing to wait for.
    if (delayUs === 0 || max === 0 || this.inFlight === 0) return 0;
    const target = preferred.length ? Math.min(max, Math.max(...preferred)) : max;
    if (this.rowsLike(head) >= target) return 0;
    const waitedUs = Number(process.hrtime.bigint() - head.enqueuedNs) / 1000;
    return waitedUs >= delayUs ? 0 : Math.max(1, (delayUs - waitedUs) / 1000);
  }

  private rowsLike(head: Entry<T>): number {
    let n = 0;
    for (const q of this.levels) for (const e of q) if (e.shapeKey === head.shapeKey) n += e.rows;
    return n;
  }

  /** Takes the head and the following compatible requests, as many rows as fit. */
  private form(head: Entry<T>): Entry<T>[] {
    const max = this.opts.maxBatchSize;
    const batch: Entry<T>[] = [];
    let rows = 0;
    for (const q of this.levels) {
      for (const e of q) {
        if (max === 0 ? batch.length > 0 : rows + e.rows > max) continue;
        if (e.shapeKey !== head.shapeKey) continue;
        batch.push(e);
        rows += e.rows;
      }
    }
    const cut = preferredCut(batch, this.opts.batching.preferred_batch_size);
    const taken = cut < batch.length ? batch.slice(0, cut) : batch;
    const now = process.hrtime.bigint();
    for (const e of taken) {
      const q = this.levels[e.level];
      q.splice(q.indexOf(e), 1);
      this.queued--;
      this.detach(e);
      e.dispatchedNs = now;
    }
    return taken;
  }

  private dispatch(batch: Entry<T>[]): void {
    this.inFlight++;
    this.opts
      .execute(batch)
      .then(
        () => batch.forEach((e) => e.settle.resolve()),
        (err: unknown) => {
          const e = err instanceof InferError ? err : new InferError('internal', String((err as Error)?.message ?? err));
          batch.forEach((r) => r.settle.reject(e));
        },
      )
      .finally(() => {
        this.inFlight--;
        this.opts.pool.releaseSlot();
        this.pump();
        this.checkIdle();
      });
  }

  private checkIdle(): void {
    if (this.queued === 0 && this.inFlight === 0 && this.idleWaiters.length) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      w.forEach((r) => r());
    }
  }
}

/** With preferred sizes, cut the batch back to the longest prefix whose rows are a preferred size. */
function preferredCut<T>(batch: Entry<T>[], preferred: number[]): number {
  if (preferred.length === 0) return batch.length;
  let rows = 0;
  let best = 0;
  batch.forEach((e, i) => {
    rows += e.rows;
    if (preferred.includes(rows)) best = i + 1;
  });
  return best > 0 ? best : batch.length;
}

function abortError(signal: AbortSignal): InferError {
  const r: unknown = signal.reason;
  if (r instanceof InferError) return r;
  return new InferError('cancelled', 'request cancelled by the client while queued');
}
