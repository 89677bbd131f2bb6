import type { BatchTimings, ModelObserver } from './model-observer.js';

/** Per model version statistics in the shape of Triton's statistics extension. */
export interface Duration {
  count: number;
  ns: number;
}

export interface BatchStat {
  batch_size: number;
  compute_input: Duration;
  compute_infer: Duration;
  compute_output: Duration;
}

export interface ModelStatsJson {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: {
    success: Duration;
    fail: Duration;
    queue: Duration;
    compute_input: Duration;
    compute_infer: Duration;
    compute_output: Duration;
    cache_hit: Duration;
    cache_miss: Duration;
  };
  batch_stats: BatchStat[];
}

const zero = (): Duration => ({ count: 0, ns: 0 });
const add = (d: Duration, ns: number, count = 1): void => {
  d.count += count;
  d.ns += ns;
};

/** Accumulates one model version's counters (it observes that version only); cheap enough for the hot path. */
export class ModelStats implements ModelObserver {
  private lastInference = 0;
  private inferenceCount = 0;
  private executionCount = 0;
  private readonly success = zero();
  private readonly fail = zero();
  private readonly queue = zero();
  private readonly computeInput = zero();
  private readonly computeInfer = zero();
  private readonly computeOutput = zero();
  private readonly batches = new Map<number, BatchStat>();

  constructor(
    readonly name: string,
    readonly version: string,
  ) {}

  requestDone(_v: unknown, ns: number): void {
    add(this.success, ns);
    this.lastInference = Date.now();
  }

  requestFailed(_v: unknown, ns: number): void {
    add(this.fail, ns);
    this.lastInference = Date.now();
  }

  batchFormed(_v: unknown, queueNs: readonly number[]): void {
    for (const ns of queueNs) add(this.queue, ns);
  }

  batchDone(_v: unknown, t: BatchTimings): void {
    const { rows, requests } = t;
    this.inferenceCount += rows;
    this.executionCount += 1;
    // Triton counts compute per request; each request of a batch shares the batch's time.
    add(this.computeInput, t.inputNs * requests, requests);
    add(this.computeInfer, t.inferNs * requests, requests);
    add(this.computeOutput, t.outputNs * requests, requests);
    let b = this.batches.get(rows);
    if (!b) {
      b = { batch_size: rows, compute_input: zero(), compute_infer: zero(), compute_output: zero() };
      this.batches.set(rows, b);
    }
    add(b.compute_input, t.inputNs);
    add(b.compute_infer, t.inferNs);
    add(b.compute_output, t.outputNs);
  }

  toJSON(): ModelStatsJson {
    const copy = (d: Duration): Duration => ({ ...d });
    return {
      name: this.name,
      version: this.version,
      last_inference: this.lastInference,
      inference_count: this.inferenceCount,
      execution_count: this.executionCount,
      inference_stats: {
        success: copy(this.success),
        fail: copy(this.fail),
        queue: copy(this.queue),
        compute_input: copy(this.computeInput),
        compute_infer: copy(this.computeInfer),
        compute_output: copy(this.computeOutput),
        cache_hit: zero(),
        cache_miss: zero(),
      },
      batch_stats: [...this.batches.values()]
        .sort((a, b) => a.batch_size - b.batch_size)
        .map((b) => ({ batch_size: b.batch_size, compute_input: copy(b.compute_input), compute_infer: copy(b.compute_infer), compute_output: copy(b.compute_output) })),
    };
  }
}
