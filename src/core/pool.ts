import { BroadcastChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { InferError } from '../protocol/errors.js';
import { type RunInput, ortRunError } from './ort-errors.js';
import { TRANSFER_MIN_BYTES } from './transfer.js';
import type { LoadedSession, RunResult, SessionSpec, WireTensor } from './worker-protocol.js';

/** A batch longer than this (typical wall time) counts as long work for slot reservation. */
const LONG_BATCH_NS = 2_000_000;
/** Short work seen within this window keeps one worker reserved for it. */
const SHORT_WORK_WINDOW_MS = 1000;

/** Something that wants a worker; the pool calls pump() when one frees up. */
export interface SlotWaiter {
  pump(): void;
  /** Typical batch time (ns): the pool serves waiters with short batches first. */
  readonly expectedBatchNs: number;
}

export interface WorkerPoolOptions {
  /** Worker threads; each runs one batch at a time. */
  threads: number;
  /** Shown in errors and metrics. */
  name: string;
  /** V8 heap limit per worker (MiB); a worker over it is stopped and replaced. 0 = none. */
  memoryLimitMb?: number;
}

/**
 * A piscina pool of onnxruntime workers. Batchers dispatch only when a slot is free
 * (tryAcquire), so work waits in the batchers' queues, where it can still join a batch,
 * rather than in the pool's.
 */
export class WorkerPool {
  readonly size: number;
  readonly name: string;
  private busy = 0;
  private readonly waiting = new Set<SlotWaiter>();
  /** When each waiter with short batches last took a slot (ms since epoch). */
  private readonly shortServed = new Map<SlotWaiter, number>();
  private readonly piscina: Piscina;
  private readonly channel = new BroadcastChannel('infergate-sessions');

  constructor(opts: WorkerPoolOptions) {
    this.size = opts.threads;
    this.name = opts.name;
    this.piscina = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: opts.threads,
      maxThreads: opts.threads,
      idleTimeout: 2 ** 31 - 1,
      concurrentTasksPerWorker: 1,
      // Workers keep their event loop free between tasks (session release messages arrive there).
      atomics: 'async',
      resourceLimits: opts.memoryLimitMb ? { maxOldGenerationSizeMb: opts.memoryLimitMb } : undefined,
    });
    // A crashed worker is replaced by piscina; its tasks reject, and we say so in their errors.
    this.piscina.on('error', () => {});
  }

  /** Slots free right now. */
  get free(): number {
    return this.size - this.busy;
  }

  /** How many workers are running a batch (for utilisation metrics). */
  get active(): number {
    return this.busy;
  }

  /**
   * Takes a slot if one is free; otherwise remembers the waiter and calls it back later.
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

  /** Runs one batch on a worker (the caller holds a slot); input buffers are transferred. */
  async run(spec: SessionSpec, inputs: WireTensor[], outputs: string[]): Promise<RunResult> {
    const transferList: ArrayBuffer[] = [];
    for (const t of inputs) {
      if (!Array.isArray(t.data) && t.data.byteLength >= TRANSFER_MIN_BYTES) transferList.push(t.data.buffer as ArrayBuffer);
    }
    try {
      return (await this.piscina.run({ op: 'run', spec, inputs, outputs }, { transferList })) as RunResult;
    } catch (err) {
      throw workerError(err, inputs);
    }
  }

  /**
   * Opens the session on the workers (one load per worker, best effort: piscina places
   * tasks itself) and returns what the session reports: tensors and provider.
   */
  async load(spec: SessionSpec): Promise<LoadedSession> {
    const loads = Array.from({ length: this.size }, () =>
      this.piscina.run({ op: 'load', spec }) as Promise<LoadedSession>,
    );
    try {
      const all = await Promise.all(loads);
      return all[0];
    } catch (err) {
      this.release(spec.key);
      throw workerError(err);
    }
  }

  /** Tells every worker to drop a session. */
  release(key: string): void {
    this.channel.postMessage({ op: 'release', key });
  }

  /** The pool's worker threads (tests use this to kill one). */
  get threads(): readonly import('node:worker_threads').Worker[] {
    return this.piscina.threads;
  }

  async close(): Promise<void> {
    this.channel.close();
    await this.piscina.destroy();
  }
}

/** A worker's failure as an InferError; with the batch's inputs, onnxruntime's refusals of them become 400s (ort-errors.ts). */
function workerError(err: unknown, inputs?: readonly RunInput[]): InferError {
  if (err instanceof InferError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/memory limit|out of memory/i.test(msg)) {
    return new InferError('internal', `the worker running this batch ran out of memory (${msg}); it has been replaced; send smaller batches or raise --worker-memory-limit-mb`);
  }
  if (/terminated|exited|worker/i.test(msg) && !/onnxruntime|ORT|Failed to/i.test(msg)) {
    return new InferError('internal', `the worker running this batch stopped (${msg}); it has been replaced, retry the request`);
  }
  if (inputs) return ortRunError(msg, inputs);
  return new InferError('internal', msg);
}
