import { BroadcastChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { InferError } from '../protocol/errors.js';
import { TRANSFER_MIN_BYTES } from './transfer.js';
import { type RunInput, ortRunError } from './ort-errors.js';
import { SlotScheduler } from './slots.js';
import type { LoadedSession, RunResult, SessionSpec, WireTensor } from './worker-protocol.js';

export interface WorkerPoolOptions {
  /** Worker threads; each runs one batch at a time. */
  threads: number;
  /** Shown in errors and metrics. */
  name: string;
  /** V8 heap limit per worker (MiB); a worker over it is stopped and replaced. 0 = none. */
  memoryLimitMb?: number;
}

/**
 * A piscina pool of onnxruntime workers. Its slots (one per worker) are handed out by a
 * SlotScheduler: batchers dispatch only when one is free.
 */
export class WorkerPool {
  readonly size: number;
  readonly name: string;
  readonly slots: SlotScheduler;
  private readonly piscina: Piscina;
  private readonly channel = new BroadcastChannel('infergate-sessions');

  constructor(opts: WorkerPoolOptions) {
    this.size = opts.threads;
    this.name = opts.name;
    this.slots = new SlotScheduler(opts.threads);
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

  /** How many workers are running a batch (for utilisation metrics). */
  get active(): number {
    return this.slots.active;
  }

  /**
   * Runs one batch on a worker (the caller holds a slot). Large input buffers are transferred
   * (detached here) unless `transfer` is false because someone still reads them afterwards.
   */
  async run(spec: SessionSpec, inputs: WireTensor[], outputs: string[], transfer = true): Promise<RunResult> {
    const transferList: ArrayBuffer[] = [];
    for (const t of inputs) {
      if (transfer && !Array.isArray(t.data) && t.data.byteLength >= TRANSFER_MIN_BYTES) transferList.push(t.data.buffer as ArrayBuffer);
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

/** The worker running a batch died (out of memory, crashed): not a fault of the batch's data. */
export class WorkerLostError extends InferError {
  constructor(message: string) {
    super('internal', message);
  }
}

/** A worker's failure as an InferError; with the batch's inputs, onnxruntime's refusals of them become 400s (ort-errors.ts). */
function workerError(err: unknown, inputs?: readonly RunInput[]): InferError {
  if (err instanceof InferError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/memory limit|out of memory/i.test(msg)) {
    return new WorkerLostError(`the worker running this batch ran out of memory (${msg}); it has been replaced; send smaller batches or raise --worker-memory-limit-mb`);
  }
  if (/terminated|exited|worker/i.test(msg) && !/onnxruntime|ORT|Failed to/i.test(msg)) {
    return new WorkerLostError(`the worker running this batch stopped (${msg}); it has been replaced, retry the request`);
  }
  if (inputs) return ortRunError(msg, inputs);
  return new InferError('internal', msg);
}
