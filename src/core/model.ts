import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Span } from '@opentelemetry/api';
import type { ModelConfig, ProviderSpec, Warmup } from '../config/model-config.js';
import { ARRAY_OF, type NumericArray, elementCount, oipFromOrt, ortFromOip } from '../protocol/datatypes.js';
import { InferError, asInferError, invalid, unavailable } from '../protocol/errors.js';
import type { InferRequest, Tensor, TensorMetadata } from '../protocol/types.js';
import { type RequestTrace, fail, startBatchSpan, tracingEnabled } from '../telemetry/tracing.js';
import { concatRows, sliceRows } from './batch-tensors.js';
import { DynamicBatcher, type EnqueueOptions, type QueuedRequest } from './batcher.js';
import type { ModelObserver, VersionLabels } from './model-observer.js';
import type { ModelState } from './model-state.js';
import type { VersionView } from './pipeline.js';
import { checkRequest, requestByteLimit } from './signature.js';
import { versionNotReady } from '../protocol/triton-errors.js';
import { relativeToRepository } from './repository-errors.js';
import { ModelStats } from './stats.js';
import { type WorkerPool, WorkerLostError } from './worker-pool.js';
import type { SessionSpec, ValueInfo, WireTensor } from './worker-protocol.js';

/** Largest batch a model gets by default when its ONNX batch axis is dynamic. */
export const DEFAULT_MAX_BATCH_SIZE = 64;

/** A request as it waits in the batcher: its inputs in model order. */
interface Payload {
  inputs: Tensor[];
  /** False for warm-up, which is not traffic: observers never hear of it. */
  counted: boolean;
  trace?: RequestTrace;
  queueSpan?: Span;
}

/** Queue options plus the request's trace, when tracing is on. */
export type InferOptions = EnqueueOptions & { trace?: RequestTrace };

/** What one inference produced: the inputs as computed (model order) and every output. */
export interface InferResult {
  inputs: Tensor[];
  outputs: Tensor[];
  /** The outputs the request asked for, or undefined for all of them. */
  wanted: Set<string> | undefined;
}

export interface ModelDeps {
  pool: WorkerPool;
  /** Shared observers of traffic (metrics); the version's own statistics are added to them. */
  observers: readonly ModelObserver[];
  providers: ProviderSpec[];
  intraOpThreads: number;
}

/** One loaded (or loading, or failed) version of a model: its metadata, batcher and statistics. */
export class ModelVersion implements VersionView {
  state: ModelState = 'LOADING';
  reason = '';
  provider: string | undefined;
  fallbackReason: string | undefined;
  inputs: TensorMetadata[] = [];
  outputs: TensorMetadata[] = [];
  maxBatchSize = 0;
  readonly stats: ModelStats;
  readonly spec: SessionSpec;
  /** Set when an observer reads a request's inputs after compute: they are then copied to workers, not transferred. */
  keepInputs = false;
  private batcher: DynamicBatcher<Payload, Tensor[]> | undefined;
  /** Also the metrics labels: one object, so the hot path allocates none. */
  readonly labels: VersionLabels;
  private readonly observers: readonly ModelObserver[];

  constructor(
    readonly name: string,
    readonly version: string,
    readonly dir: string,
    readonly config: ModelConfig,
    private readonly deps: ModelDeps,
    modelPath = join(dir, version, 'model.onnx'),
  ) {
    this.stats = new ModelStats(name, version);
    this.labels = { model: name, version };
    this.observers = [this.stats, ...deps.observers];
    this.spec = {
      key: `${name}/${version}/${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
      path: modelPath,
      providers: deps.providers,
      intraOpThreads: deps.intraOpThreads,
    };
  }

  private byteLimit: number | null | undefined;

  /** The largest request body this version can need, once loaded (undefined: unbounded by its signature). */
  get requestByteLimit(): number | undefined {
    if (this.state !== 'READY') return undefined;
    if (this.byteLimit === undefined) this.byteLimit = requestByteLimit(this) ?? null;
    return this.byteLimit ?? undefined;
  }

  get pool(): WorkerPool {
    return this.deps.pool;
  }

  /** Requests queued and batches running. */
  get depth(): { queued: number; inFlight: number } {
    return this.batcher?.depth ?? { queued: 0, inFlight: 0 };
  }

  /**
   * Opens sessions on the workers, derives metadata and batching, runs warm-up, then
   * `beforeReady` (capabilities preparing their state); never throws: a failure leaves the
   * version UNAVAILABLE with the reason.
   */
  async load(beforeReady?: (v: ModelVersion) => Promise<void>): Promise<void> {
    try {
      this.spec.model = await sharedBytes(this.spec.path);
      const loaded = await this.deps.pool.load(this.spec);
      this.provider = loaded.provider;
      this.fallbackReason = loaded.fallbackReason;
      this.inputs = loaded.inputs.map((v) => tensorMeta(v, 'input'));
      this.outputs = loaded.outputs.map((v) => tensorMeta(v, 'output'));
      this.maxBatchSize = this.resolveMaxBatchSize();
      const instances = this.config.instance_group.reduce((n, g) => n + g.count, 0);
      this.batcher = new DynamicBatcher<Payload, Tensor[]>({
        maxBatchSize: this.maxBatchSize,
        batching: this.config.dynamic_batching,
        maxInFlight: instances > 0 ? instances : this.deps.pool.size,
        slots: this.deps.pool.slots,
        execute: (batch) => this.execute(batch),
      });
      for (const w of this.config.model_warmup) await this.warmup(w);
      await beforeReady?.(this);
      this.state = 'READY';
    } catch (err) {
      this.state = 'UNAVAILABLE';
      // Paths relative to the repository: the reason reaches clients (index, metadata errors).
      this.reason = relativeToRepository(asInferError(err).message, dirname(this.dir));
      this.deps.pool.release(this.spec.key);
      this.spec.model = undefined;
    }
  }

  private resolveMaxBatchSize(): number {
    const batchable = [...this.inputs, ...this.outputs].every((t) => t.shape.length > 0 && t.shape[0] === -1);
    const configured = this.config.max_batch_size;
    if (configured === undefined) return batchable ? DEFAULT_MAX_BATCH_SIZE : 0;
    if (configured > 0 && !batchable) {
      throw invalid(`max_batch_size ${configured} needs a dynamic first (batch) dimension on every input and output of the ONNX model`);
    }
    return configured;
  }

  /** Validates a request against the model, queues it, and returns its inputs as computed and every output. */
  async infer(req: InferRequest, opts: InferOptions = {}): Promise<InferResult> {
    const t0 = process.hrtime.bigint();
    try {
      if (this.state !== 'READY' || !this.batcher) {
        throw unavailable(versionNotReady(this.name, this.version));
      }
      const result = await this.run(req, opts, true);
      const ns = Number(process.hrtime.bigint() - t0);
      const traceId = opts.trace?.span.spanContext().traceId;
      for (const o of this.observers) o.requestDone(this.labels, ns, traceId);
      return result;
    } catch (err) {
      const e = asInferError(err);
      const ns = Number(process.hrtime.bigint() - t0);
      for (const o of this.observers) o.requestFailed(this.labels, ns, e.kind);
      throw e;
    }
  }

  private async run(req: InferRequest, opts: InferOptions, counted: boolean): Promise<InferResult> {
    const { inputs, rows, shapeKey, wanted } = checkRequest(this, req);
    const payload: Payload = { inputs, counted, trace: opts.trace, queueSpan: opts.trace?.child('queue wait') };
    try {
      const outputs = await this.batcher!.enqueue(payload, rows, shapeKey, opts);
      return { inputs, outputs, wanted };
    } catch (err) {
      if (payload.queueSpan) {
        // Still open means it never left the queue (full, timed out or cancelled).
        fail(payload.queueSpan, err);
        payload.queueSpan.end();
      }
      throw err;
    }
  }

  /** Runs one formed batch on a worker and hands each request its own rows of every output. */
  private async execute(batch: QueuedRequest<Payload>[]): Promise<(Tensor[] | InferError)[]> {
    const rows = batch.reduce((n, e) => n + e.rows, 0);
    const counted = batch[0].payload.counted;
    const queueNs = counted ? batch.map((e) => Number(e.dispatchedNs - e.enqueuedNs)) : undefined;
    for (const e of batch) {
      e.payload.queueSpan?.end();
      e.payload.queueSpan = undefined;
    }
    if (queueNs) for (const o of this.observers) o.batchFormed(this.labels, queueNs);
    const spans = this.computeSpans(batch, rows);
    try {
      return await this.runIsolating(batch, rows, counted);
    } catch (err) {
      spans?.forEach((s) => fail(s, err));
      throw err;
    } finally {
      spans?.forEach((s) => s.end());
    }
  }

  /** With tracing on: one batch span linked to every request, and a compute span per request. */
  private computeSpans(batch: QueuedRequest<Payload>[], rows: number): Span[] | undefined {
    if (!tracingEnabled()) return undefined;
    const attrs = { 'infergate.model': this.name, 'infergate.version': this.version, 'infergate.batch_size': rows, 'infergate.batch_requests': batch.length };
    const batchSpan = startBatchSpan(batch.map((e) => e.payload.trace), attrs);
    if (!batchSpan) return undefined;
    const spans = [batchSpan];
    for (const e of batch) {
      const t = e.payload.trace;
      if (t) spans.push(t.child('batch compute', { ...attrs, 'infergate.rows': e.rows }, [{ context: batchSpan.spanContext() }]));
    }
    return spans;
  }

  /**
   * Runs a batch; when onnxruntime fails it, runs each half again (and so on down), so that
   * only the requests that cause a failure fail, each with the error of its own data, never
   * another request's: about 2·log2(n) extra runs for one bad request in n. A lost worker is
   * not the data's fault and fails the batch at once.
   */
  private async runIsolating(batch: QueuedRequest<Payload>[], rows: number, counted: boolean): Promise<(Tensor[] | InferError)[]> {
    try {
      return await this.runBatch(batch, rows, counted);
    } catch (err) {
      if (batch.length === 1) return [asInferError(err)];
      if (err instanceof WorkerLostError) throw err;
      const mid = batch.length >> 1;
      const halves = [batch.slice(0, mid), batch.slice(mid)];
      const out: (Tensor[] | InferError)[] = [];
      for (const h of halves) out.push(...(await this.runIsolating(h, h.reduce((n, e) => n + e.rows, 0), counted)));
      return out;
    }
  }

  private async runBatch(batch: QueuedRequest<Payload>[], rows: number, counted: boolean): Promise<Tensor[][]> {
    const inputs: WireTensor[] = this.inputs.map((m, i) => {
      const parts = batch.map((e) => e.payload.inputs[i]);
      const first = parts[0];
      const dims = this.maxBatchSize > 0 ? [rows, ...first.shape.slice(1)] : first.shape;
      return { name: m.name, type: ortFromOip(m.datatype), dims, data: concatRows(parts) as WireTensor['data'] };
    });
    const result = await this.deps.pool.run(this.spec, inputs, this.outputs.map((o) => o.name), !this.keepInputs);
    if (counted) {
      const t = { rows, requests: batch.length, inputNs: result.computeInputNs, inferNs: result.computeInferNs, outputNs: result.computeOutputNs };
      for (const o of this.observers) o.batchDone(this.labels, t);
    }
    let start = 0;
    return batch.map((e) => {
      const outputs = result.outputs.map((o): Tensor => {
        const datatype = oipFromOrt(o.type);
        if (!datatype) throw new InferError('internal', `output '${o.name}' has type ${o.type}, which OIP v2 cannot carry`);
        if (this.maxBatchSize === 0) return { name: o.name, datatype, shape: o.dims, data: o.data as Tensor['data'] };
        if (o.dims[0] !== rows) {
          throw new InferError('internal', `output '${o.name}' has ${o.dims[0]} rows for a batch of ${rows}: the model's first dimension is not a batch axis`);
        }
        return { name: o.name, datatype, shape: [e.rows, ...o.dims.slice(1)], data: sliceRows(o.data as Tensor['data'], o.dims, start, e.rows) };
      });
      start += e.rows;
      return outputs;
    });
  }

  private async warmup(w: Warmup): Promise<void> {
    const inputs: Tensor[] = Object.entries(w.inputs).map(([name, spec]) => {
      const datatype = spec.data_type;
      const shape = this.maxBatchSize > 0 ? [w.batch_size, ...spec.dims] : spec.dims;
      const count = elementCount(shape);
      if (datatype === 'BYTES') return { name, datatype, shape, data: new Array<string>(count).fill(spec.source === 'random_data' ? 'warmup' : '') };
      const data = new ARRAY_OF[datatype](count) as NumericArray;
      if (spec.source === 'random_data' && !(data instanceof BigInt64Array || data instanceof BigUint64Array)) {
        for (let i = 0; i < count; i++) data[i] = datatype.startsWith('FP') ? Math.random() : (i * 7919) % 100;
      }
      return { name, datatype, shape, data };
    });
    for (let i = 0; i < w.count; i++) {
      try {
        await this.run({ inputs }, {}, false);
      } catch (err) {
        throw new InferError('internal', `warm-up '${w.name}' failed: ${asInferError(err).message}`);
      }
    }
  }

  /** Stops taking requests, lets queued and running ones finish, then frees the sessions. */
  async unload(): Promise<void> {
    if (this.state === 'READY') this.state = 'UNLOADING';
    await this.batcher?.idle();
    this.deps.pool.release(this.spec.key);
    this.spec.model = undefined;
  }

  /** Waits until nothing is queued or running (for draining). */
  async idle(): Promise<void> {
    await this.batcher?.idle();
  }
}

/** A model file's bytes in shared memory: every worker opens the session from this one copy. */
async function sharedBytes(path: string): Promise<SharedArrayBuffer> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const bytes = new SharedArrayBuffer(size);
    const view = new Uint8Array(bytes);
    for (let at = 0; at < size; ) {
      const { bytesRead } = await file.read(view, at, size - at, at);
      if (bytesRead === 0) throw new Error(`${path} shrank while it was read (now ${at} of ${size} bytes); it is loaded again when it stops changing`);
      at += bytesRead;
    }
    return bytes;
  } finally {
    await file.close();
  }
}

function tensorMeta(v: ValueInfo, kind: string): TensorMetadata {
  const datatype = oipFromOrt(v.type);
  if (!datatype) throw invalid(`${kind} '${v.name}' has type ${v.type}, which OIP v2 cannot carry`);
  return { name: v.name, datatype, shape: v.shape };
}
