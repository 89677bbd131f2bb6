import { dirname, join } from 'node:path';
import type { ModelConfig, ProviderSpec, Warmup } from '../config/model-config.js';
import { type Datatype, elementCount, formatShape, oipFromOrt, ortFromOip, ARRAY_OF, type NumericArray } from '../protocol/datatypes.js';
import { clip } from '../protocol/clip.js';
import { InferError, asInferError, invalid, unavailable } from '../protocol/errors.js';
import type { InferRequest, Tensor, TensorMetadata } from '../protocol/types.js';
import type { Span } from '@opentelemetry/api';
import type { Metrics, ModelState } from '../telemetry/metrics.js';
import { type RequestTrace, fail, startBatchSpan, tracingEnabled } from '../telemetry/tracing.js';
import { concatRows, sliceRows } from './batch-tensors.js';
import { DynamicBatcher, type EnqueueOptions, type QueuedRequest } from './batcher.js';
import type { WorkerPool } from './pool.js';
import { relativeToRepository } from './repository-errors.js';
import { ModelStats } from './stats.js';
import type { SessionSpec, ValueInfo, WireTensor } from './worker-protocol.js';

/** Largest batch a model gets by default when its ONNX batch axis is dynamic. */
export const DEFAULT_MAX_BATCH_SIZE = 64;

/** A request as it waits in the batcher: its inputs in model order, and later its outputs. */
interface Payload {
  inputs: Tensor[];
  result?: Tensor[];
  trace?: RequestTrace;
  queueSpan?: Span;
}

/** Queue options plus the request's trace, when tracing is on. */
export type InferOptions = EnqueueOptions & { trace?: RequestTrace };

export interface ModelDeps {
  pool: WorkerPool;
  metrics: Metrics;
  providers: ProviderSpec[];
  intraOpThreads: number;
}

/** One loaded (or loading, or failed) version of a model: its metadata, batcher and statistics. */
export class ModelVersion {
  state: ModelState = 'LOADING';
  reason = '';
  provider: string | undefined;
  fallbackReason: string | undefined;
  inputs: TensorMetadata[] = [];
  outputs: TensorMetadata[] = [];
  maxBatchSize = 0;
  /** When this version was created (poll mode retries a failed load only after its file changes). */
  readonly loadedAt = Date.now();
  readonly stats: ModelStats;
  readonly spec: SessionSpec;
  private batcher: DynamicBatcher<Payload> | undefined;
  private readonly labels: { model: string; version: string };

  constructor(
    readonly name: string,
    readonly version: string,
    readonly dir: string,
    readonly config: ModelConfig,
    private readonly deps: ModelDeps,
  ) {
    this.stats = new ModelStats(name, version);
    this.labels = { model: name, version };
    this.spec = {
      key: `${name}/${version}/${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
      path: join(dir, version, 'model.onnx'),
      providers: deps.providers,
      intraOpThreads: deps.intraOpThreads,
    };
  }

  get pool(): WorkerPool {
    return this.deps.pool;
  }

  /** Requests queued and batches running. */
  get depth(): { queued: number; inFlight: number } {
    return this.batcher?.depth ?? { queued: 0, inFlight: 0 };
  }

  /** Opens sessions on the workers, derives metadata and batching, runs warm-up; never throws. */
  async load(): Promise<void> {
    const end = this.deps.metrics.loadDuration.startTimer(this.labels);
    try {
      const loaded = await this.deps.pool.load(this.spec);
      this.provider = loaded.provider;
      this.fallbackReason = loaded.fallbackReason;
      this.inputs = loaded.inputs.map((v) => tensorMeta(v, 'input'));
      this.outputs = loaded.outputs.map((v) => tensorMeta(v, 'output'));
      this.maxBatchSize = this.resolveMaxBatchSize();
      const instances = this.config.instance_group.reduce((n, g) => n + g.count, 0);
      this.batcher = new DynamicBatcher<Payload>({
        maxBatchSize: this.maxBatchSize,
        batching: this.config.dynamic_batching,
        maxInFlight: instances > 0 ? instances : this.deps.pool.size,
        pool: this.deps.pool,
        execute: (batch) => this.execute(batch),
      });
      for (const w of this.config.model_warmup) await this.warmup(w);
      this.state = 'READY';
      end();
    } catch (err) {
      this.state = 'UNAVAILABLE';
      // Paths relative to the repository: the reason reaches clients (index, metadata errors).
      this.reason = relativeToRepository(asInferError(err).message, dirname(this.dir));
      this.deps.pool.release(this.spec.key);
      this.deps.metrics.loadFailures.inc(this.labels);
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

  /** Validates a request against the model, queues it, and returns the outputs it asked for. */
  async infer(req: InferRequest, opts: InferOptions = {}): Promise<Tensor[]> {
    const t0 = process.hrtime.bigint();
    try {
      if (this.state !== 'READY' || !this.batcher) {
        throw unavailable(`model '${this.name}' version ${this.version} is not ready (state ${this.state})`);
      }
      const outputs = await this.run(req, opts);
      const ns = Number(process.hrtime.bigint() - t0);
      this.stats.request(true, ns);
      this.deps.metrics.success.inc(this.labels);
      const traceId = opts.trace?.span.spanContext().traceId;
      this.deps.metrics.requestDuration.observe({ labels: this.labels, value: ns / 1e9, exemplarLabels: (traceId ? { trace_id: traceId } : {}) as Record<string, string> });
      return outputs;
    } catch (err) {
      const e = asInferError(err);
      this.stats.request(false, Number(process.hrtime.bigint() - t0));
      this.deps.metrics.failure.inc({ ...this.labels, reason: e.kind });
      throw e;
    }
  }

  private async run(req: InferRequest, opts: InferOptions): Promise<Tensor[]> {
    const wanted = this.requestedOutputs(req);
    const { ordered, rows, shapeKey } = this.prepare(req);
    const payload: Payload = { inputs: ordered, trace: opts.trace, queueSpan: opts.trace?.child('queue wait') };
    try {
      await this.batcher!.enqueue(payload, rows, shapeKey, opts);
    } catch (err) {
      if (payload.queueSpan) {
        // Still open means it never left the queue (full, timed out or cancelled).
        fail(payload.queueSpan, err);
        payload.queueSpan.end();
      }
      throw err;
    }
    return wanted ? payload.result!.filter((t) => wanted.has(t.name)) : payload.result!;
  }

  /** The outputs a request names, or undefined for all of them (the common case, no work). */
  private requestedOutputs(req: InferRequest): Set<string> | undefined {
    if (!req.outputs || req.outputs.length === 0) return undefined;
    const known = new Set(this.outputs.map((o) => o.name));
    const wanted = new Set<string>();
    for (const o of req.outputs) {
      if (!known.has(o.name)) {
        throw invalid(`unknown output '${clip(o.name)}' requested for model '${this.name}'; its outputs are ${[...known].join(', ')}`);
      }
      if (wanted.has(o.name)) throw invalid(`output '${clip(o.name)}' is requested twice`);
      wanted.add(o.name);
    }
    return wanted;
  }

  /** Checks names, datatypes and shapes; returns inputs in model order and the batch rows. */
  private prepare(req: InferRequest): { ordered: Tensor[]; rows: number; shapeKey: string } {
    const byName = new Map<string, Tensor>();
    for (const t of req.inputs) {
      if (byName.has(t.name)) throw invalid(`input '${clip(t.name)}' is given twice`);
      byName.set(t.name, t);
    }
    const batching = this.maxBatchSize > 0;
    let rows = 1;
    let rowsFrom = '';
    let shapeKey = '';
    const ordered = this.inputs.map((m) => {
      const t = byName.get(m.name);
      if (!t) throw invalid(`missing input '${m.name}' (${m.datatype} ${formatShape(m.shape)}) for model '${this.name}'`);
      byName.delete(m.name);
      if (t.datatype !== m.datatype) {
        throw invalid(`input '${m.name}': datatype ${t.datatype} does not match the model's ${m.datatype}`);
      }
      const fits = t.shape.length === m.shape.length && t.shape.every((d, i) => m.shape[i] === -1 || m.shape[i] === d);
      if (!fits) throw invalid(`input '${m.name}': shape ${formatShape(t.shape)} does not match the model's ${formatShape(m.shape)}`);
      const count = Array.isArray(t.data) ? t.data.length : (t.data as NumericArray).length;
      if (count !== elementCount(t.shape)) {
        throw invalid(`input '${m.name}': shape ${formatShape(t.shape)} implies ${elementCount(t.shape)} elements, data has ${count}`);
      }
      if (batching) {
        if (t.shape[0] < 1) throw invalid(`input '${m.name}': batch dimension must be at least 1`);
        if (rowsFrom === '') {
          rows = t.shape[0];
          rowsFrom = m.name;
        } else if (t.shape[0] !== rows) {
          throw invalid(`inputs disagree on the batch dimension: '${rowsFrom}' has ${rows} rows, '${m.name}' has ${t.shape[0]}`);
        }
        shapeKey += t.shape.slice(1).join('x') + ';';
      } else {
        shapeKey += t.shape.join('x') + ';';
      }
      return t;
    });
    if (byName.size > 0) {
      const extra = [...byName.keys()][0];
      throw invalid(`unexpected input '${clip(extra)}' for model '${this.name}'; its inputs are ${this.inputs.map((i) => i.name).join(', ')}`);
    }
    return { ordered, rows, shapeKey };
  }

  /** Runs one formed batch on a worker and hands each request its own rows of every output. */
  private async execute(batch: QueuedRequest<Payload>[]): Promise<void> {
    const rows = batch.reduce((n, e) => n + e.rows, 0);
    for (const e of batch) {
      const ns = Number(e.dispatchedNs - e.enqueuedNs);
      this.stats.queued(ns);
      this.deps.metrics.queueDuration.observe(this.labels, ns / 1e9);
      e.payload.queueSpan?.end();
      e.payload.queueSpan = undefined;
    }
    const spans = this.computeSpans(batch, rows);
    try {
      await this.runBatch(batch, rows);
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

  private async runBatch(batch: QueuedRequest<Payload>[], rows: number): Promise<void> {
    const inputs: WireTensor[] = this.inputs.map((m, i) => {
      const parts = batch.map((e) => e.payload.inputs[i]);
      const first = parts[0];
      const dims = this.maxBatchSize > 0 ? [rows, ...first.shape.slice(1)] : first.shape;
      return { name: m.name, type: ortFromOip(m.datatype), dims, data: concatRows(parts) as WireTensor['data'] };
    });
    const result = await this.deps.pool.run(this.spec, inputs, this.outputs.map((o) => o.name));
    this.stats.executed(rows, batch.length, { inputNs: result.computeInputNs, inferNs: result.computeInferNs, outputNs: result.computeOutputNs });
    this.deps.metrics.executions.inc(this.labels);
    this.deps.metrics.inferences.inc(this.labels, rows);
    this.deps.metrics.batchSize.observe(this.labels, rows);
    this.deps.metrics.computeDuration.observe(this.labels, result.computeInferNs / 1e9);
    let start = 0;
    for (const e of batch) {
      e.payload.result = result.outputs.map((o) => {
        const datatype = oipFromOrt(o.type);
        if (!datatype) throw new InferError('internal', `output '${o.name}' has type ${o.type}, which OIP v2 cannot carry`);
        if (this.maxBatchSize === 0) return { name: o.name, datatype, shape: o.dims, data: o.data as Tensor['data'] };
        if (o.dims[0] !== rows) {
          throw new InferError('internal', `output '${o.name}' has ${o.dims[0]} rows for a batch of ${rows}: the model's first dimension is not a batch axis`);
        }
        return { name: o.name, datatype, shape: [e.rows, ...o.dims.slice(1)], data: sliceRows(o.data as Tensor['data'], o.dims, start, e.rows) };
      });
      start += e.rows;
    }
  }

  private async warmup(w: Warmup): Promise<void> {
    const inputs: Tensor[] = Object.entries(w.inputs).map(([name, spec]) => {
      const datatype = tritonType(spec.data_type, `model_warmup '${w.name}' input '${name}'`);
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
        await this.run({ inputs }, {});
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
  }

  /** Waits until nothing is queued or running (for draining). */
  async idle(): Promise<void> {
    await this.batcher?.idle();
  }
}

function tensorMeta(v: ValueInfo, kind: string): TensorMetadata {
  const datatype = oipFromOrt(v.type);
  if (!datatype) throw invalid(`${kind} '${v.name}' has type ${v.type}, which OIP v2 cannot carry`);
  return { name: v.name, datatype, shape: v.shape };
}

const TRITON_TYPES: Record<string, Datatype> = {
  TYPE_BOOL: 'BOOL', TYPE_UINT8: 'UINT8', TYPE_UINT16: 'UINT16', TYPE_UINT32: 'UINT32', TYPE_UINT64: 'UINT64',
  TYPE_INT8: 'INT8', TYPE_INT16: 'INT16', TYPE_INT32: 'INT32', TYPE_INT64: 'INT64',
  TYPE_FP16: 'FP16', TYPE_FP32: 'FP32', TYPE_FP64: 'FP64', TYPE_BF16: 'BF16', TYPE_STRING: 'BYTES',
};

/** Triton config type names (TYPE_FP32) or OIP names (FP32) to OIP datatypes. */
function tritonType(t: string, where: string): Datatype {
  const dt = TRITON_TYPES[t] ?? (Object.values(TRITON_TYPES).includes(t as Datatype) ? (t as Datatype) : undefined);
  if (!dt) throw invalid(`${where}: unknown data_type '${t}'`);
  return dt;
}

