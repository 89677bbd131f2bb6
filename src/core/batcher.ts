import type { DynamicBatching } from '../config/model-config.js';
import { InferError, invalid, unavailable } from '../protocol/errors.js';
import type { Cancellation } from './cancellation.js';
import type { SlotSource, SlotWaiter } from './slots.js';

/** Longest the adaptive rule holds a batch back waiting for the returning wave (µs). */
export const ADAPTIVE_MAX_WAIT_US = 2000;
/** How far a version taking a share of its model's traffic may stretch that bound (see adaptiveBoundUs). */
const ADAPTIVE_MAX_SHARE_STRETCH = 2;

/**
 * The adaptive rule's bound on holding a batch for `targetRows` (µs): twice the time that
 * many rows should take to arrive at the recent gap between arrivals, at most
 * ADAPTIVE_MAX_WAIT_US. A version that takes only `share` of its model's traffic (an arm of
 * a rollout) sees that share of the returning wave in the same time, so its bound stretches
 * by 1/share, at most ADAPTIVE_MAX_SHARE_STRETCH times: two arms at 50% then form batches as
 * large as the model served by one version would, instead of twice as many half-size ones.
 */
export function adaptiveBoundUs(targetRows: number, gapNs: number, share = 1): number {
  const stretch = share > 0 && share < 1 ? Math.min(ADAPTIVE_MAX_SHARE_STRETCH, 1 / share) : 1;
  return Math.min(ADAPTIVE_MAX_WAIT_US * stretch, (2 * targetRows * gapNs) / 1000);
}

/** setTimeout's longest delay (2^31-1 ms); a longer one would fire at once instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One request waiting in a batcher's queue. */
export interface QueuedRequest<T> {
  /** Rows this request contributes (its batch dimension; 1 when the model does not batch). */
  rows: number;
  /** Requests share a batch only when these agree (the non-batch dimensions of every input). */
  shapeKey: string;
  payload: T;
  /** Set by the batcher: when it was queued and when it left the queue (ns, hrtime). */
  enqueuedNs: bigint;
  dispatchedNs: bigint;
}

export interface BatcherOptions<T, R> {
  /** 0: the model does not batch; each request runs alone. */
  maxBatchSize: number;
  batching: DynamicBatching;
  /** At most this many batches of this model run at once (instance_group count). */
  maxInFlight: number;
  /** The worker slots batches wait for. */
  slots: SlotSource;
  /**
   * Runs a formed batch; resolves with each request's result in batch order (an InferError
   * in a request's place fails that request alone), or rejects to fail the whole batch.
   */
  execute(batch: QueuedRequest<T>[]): Promise<(R | InferError)[]>;
}

export interface EnqueueOptions {
  /** Request `priority` parameter: 0 = default level. */
  priority?: number;
  /** Request `timeout` parameter, microseconds (may only lower the queue policy's default). */
  timeoutUs?: number;
  /** Cancelling (client gone, gRPC deadline) removes the request if it is still queued. */
  cancel?: Cancellation;
  /** The share (0-1] of its model's traffic that was routed to this version (a rollout's arm); see adaptiveBoundUs. */
  trafficShare?: number;
}

type Entry<T, R> = QueuedRequest<T> & {
  level: number;
  share: number | undefined;
  settle: { resolve: (r: R) => void; reject: (e: InferError) => void };
  timer?: NodeJS.Timeout;
  unwatch?: () => void;
};

/**
 * Triton-style dynamic batcher for one model version: requests queue here (by priority
 * level, FIFO within a level) and leave as a batch when a pool slot is free.
 */
export class DynamicBatcher<T, R> implements SlotWaiter {
  private readonly levels: Entry<T, R>[][];
  private queued = 0;
  private inFlight = 0;
  private delayTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  /** Rows of the last batch that finished, and when (for the adaptive wait). */
  private lastBatchRows = 0;
  private lastDoneNs = 0n;
  /** Running averages: gap between arrivals, and batch wall time (ns). */
  private gapNs = 0;
  private lastArrivalNs = 0n;
  private batchNs = 0;

  constructor(private readonly opts: BatcherOptions<T, R>) {
    this.levels = Array.from({ length: Math.max(1, opts.batching.priority_levels) }, () => []);
  }

  /** Requests waiting, and batches running. */
  get depth(): { queued: number; inFlight: number } {
    return { queued: this.queued, inFlight: this.inFlight };
  }

  /**
   * Queues a request; resolves with its result once its batch has run, rejects when the
   * queue is full, its timeout passes or it is cancelled while queued.
   */
  enqueue(payload: T, rows: number, shapeKey: string, opts: EnqueueOptions = {}): Promise<R> {
    const { batching, maxBatchSize } = this.opts;
    const policy = batching.default_queue_policy;
    if (maxBatchSize > 0 && rows > maxBatchSize) {
      throw invalid(`inference request batch-size ${rows} must be <= max_batch_size ${maxBatchSize}`);
    }
    const level = this.levelOf(opts.priority ?? 0);
    if (policy.max_queue_size > 0 && this.queued >= policy.max_queue_size) {
      throw unavailable('Exceeds maximum queue size');
    }
    if (opts.cancel?.reason) throw opts.cancel.reason;
    let timeoutUs = policy.default_timeout_microseconds;
    if (opts.timeoutUs !== undefined && policy.allow_timeout_override && opts.timeoutUs > 0) {
      timeoutUs = timeoutUs === 0 ? opts.timeoutUs : Math.min(timeoutUs, opts.timeoutUs);
    }
    return new Promise<R>((resolve, reject) => {
      const now = process.hrtime.bigint();
      if (this.lastArrivalNs > 0n) {
        const gap = Math.min(Number(now - this.lastArrivalNs), 1e9);
        this.gapNs = this.gapNs === 0 ? gap : 0.8 * this.gapNs + 0.2 * gap;
      }
      this.lastArrivalNs = now;
      const e: Entry<T, R> = {
        rows, shapeKey, payload, level, share: opts.trafficShare, settle: { resolve, reject },
        enqueuedNs: now, dispatchedNs: 0n,
      };
      if (timeoutUs > 0) {
        e.timer = setTimeout(() => this.drop(e, unavailable('Request timeout expired')), Math.min(MAX_TIMER_MS, Math.max(1, timeoutUs / 1000)));
      }
      const cancel = opts.cancel;
      if (cancel) e.unwatch = cancel.watch(() => this.drop(e, cancel.reason!));
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
  private drop(e: Entry<T, R>, err: InferError): void {
    const q = this.levels[e.level];
    const i = q.indexOf(e);
    if (i < 0) return;
    q.splice(i, 1);
    this.queued--;
    this.detach(e);
    e.settle.reject(err);
    this.checkIdle();
  }

  private detach(e: Entry<T, R>): void {
    if (e.timer) clearTimeout(e.timer);
    e.unwatch?.();
  }

  private head(): Entry<T, R> | undefined {
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
          }, Math.min(MAX_TIMER_MS, waitMs));
        }
        return;
      }
      if (!this.opts.slots.tryAcquire(this)) return;
      this.dispatch(this.form(head));
    }
  }

  /**
   * Milliseconds to keep waiting for more rows before sending the head's batch; 0 = go now.
   *
   * With max_queue_delay_microseconds set, Triton's rule: wait up to that long for the
   * preferred (or maximum) batch while another batch of this model runs.
   *
   * Without it (the default), an adaptive rule for closed-loop clients: the requests of the
   * batch that just finished come back as a wave, so hold the head until as many rows as
   * that batch had are queued, but never longer than that wave should take to arrive
   * (adaptiveBoundUs). A lone client (last batch of one row, or nothing finished recently)
   * is never held.
   */
  private waitFor(head: Entry<T, R>): number {
    const { max_queue_delay_microseconds: delayUs, preferred_batch_size: preferred } = this.opts.batching;
    const max = this.opts.maxBatchSize;
    if (max === 0) return 0;
    const cap = preferred.length ? Math.min(max, Math.max(...preferred)) : max;
    const now = process.hrtime.bigint();
    const waitedUs = Number(now - head.enqueuedNs) / 1000;
    let target: number;
    let boundUs: number;
    if (delayUs > 0) {
      if (this.inFlight === 0) return 0;
      target = cap;
      boundUs = delayUs;
    } else {
      target = Math.min(cap, this.lastBatchRows);
      if (target <= 1) return 0;
      boundUs = adaptiveBoundUs(target, this.gapNs, head.share);
      const sinceDoneUs = Number(now - this.lastDoneNs) / 1000;
      if (this.inFlight === 0 && sinceDoneUs > boundUs) return 0;
    }
    if (waitedUs >= boundUs || this.rowsLike(head) >= target) return 0;
    return Math.max(1, (boundUs - waitedUs) / 1000);
  }

  /** Running average wall time of one batch of this model (ns); 0 before the first. */
  get expectedBatchNs(): number {
    return this.batchNs;
  }

  private rowsLike(head: Entry<T, R>): number {
    let n = 0;
    for (const q of this.levels) for (const e of q) if (e.shapeKey === head.shapeKey) n += e.rows;
    return n;
  }

  /** Takes the head and the following compatible requests, as many rows as fit. */
  private form(head: Entry<T, R>): Entry<T, R>[] {
    const max = this.opts.maxBatchSize;
    const batch: Entry<T, R>[] = [];
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

  private dispatch(batch: Entry<T, R>[]): void {
    this.inFlight++;
    this.opts
      .execute(batch)
      .then(
        (results) => batch.forEach((e, i) => {
          const r = results[i];
          if (r instanceof InferError) e.settle.reject(r);
          else e.settle.resolve(r);
        }),
        (err: unknown) => {
          const e = err instanceof InferError ? err : new InferError('internal', String((err as Error)?.message ?? err));
          batch.forEach((r) => r.settle.reject(e));
        },
      )
      .finally(() => {
        const done = process.hrtime.bigint();
        const ns = Number(done - batch[0].dispatchedNs);
        this.batchNs = this.batchNs === 0 ? ns : 0.8 * this.batchNs + 0.2 * ns;
        this.lastBatchRows = batch.reduce((n, e) => n + e.rows, 0);
        this.lastDoneNs = done;
        this.inFlight--;
        this.opts.slots.releaseSlot();
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
function preferredCut(batch: { rows: number }[], preferred: number[]): number {
  if (preferred.length === 0) return batch.length;
  let rows = 0;
  let best = 0;
  batch.forEach((e, i) => {
    rows += e.rows;
    if (preferred.includes(rows)) best = i + 1;
  });
  return best > 0 ? best : batch.length;
}
