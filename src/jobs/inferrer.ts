import { handleInfer, type InferDeps } from '../core/infer-call.js';
import type { ModelVersion } from '../core/model.js';
import type { RequestSource } from '../core/pipeline.js';
import { ARRAY_OF, type Datatype, isDatatype } from '../protocol/datatypes.js';
import { UnknownEntityError } from '../features/errors.js';
import { InferError, type ErrorKind } from '../protocol/errors.js';
import type { InferRequest, InferResponse, Tensor, TensorData, TensorMetadata } from '../protocol/types.js';
import { backgroundShareOf } from './background-share.js';
import { type JobSignature, signatureOf } from './model-signature.js';

/** Where a job's requests go: the dataplane in this process, or a gateway over HTTP. */
export interface RowInferrer {
  /** The model's inputs, outputs and batching, as the version that serves now has them. */
  signature(): Promise<JobSignature>;
  infer(req: InferRequest): Promise<InferResponse>;
  /** The priority level that puts a request behind interactive ones, when the model has levels. */
  backgroundPriority(): number | undefined;
}

const NO_HEADERS = Object.freeze({});

/**
 * Runs a job's requests in this process through `handleInfer` (so they get the same steps,
 * statistics and metrics as HTTP and gRPC requests, with source `batch` or `stream`); batch
 * requests wait for the version's background share first.
 */
export class InProcessInferrer implements RowInferrer {
  constructor(
    private readonly deps: InferDeps,
    private readonly model: string,
    private readonly version: string | undefined,
    /** share: of the version's worker slots, kept while interactive requests wait (batch only; default 0.5). */
    private readonly opts: { source: RequestSource; share?: number },
  ) {}

  private current(): ModelVersion {
    return this.deps.dataplane.router.resolve(this.model, this.version);
  }

  async signature(): Promise<JobSignature> {
    const mv = this.current();
    if (mv.state !== 'READY') throw new InferError('unavailable', `model '${this.model}' version ${mv.version} is not ready (state ${mv.state}${mv.reason ? `: ${mv.reason}` : ''})`);
    return signatureOf(mv);
  }

  backgroundPriority(): number | undefined {
    const levels = this.current().config.dynamic_batching.priority_levels;
    return levels >= 2 ? levels : undefined;
  }

  async infer(req: InferRequest): Promise<InferResponse> {
    const call = () => handleInfer(this.deps, {
      source: this.opts.source, model: this.model, version: this.version, headers: NO_HEADERS,
      decode: () => req,
      encode: (res) => res,
    });
    if (this.opts.source !== 'batch') return call();
    const mv = this.current();
    const gate = backgroundShareOf(mv, () => ({ depth: mv.depth, slots: slotsOf(mv) }));
    await gate.acquire(this.opts.share);
    try {
      return await call();
    } finally {
      gate.release();
    }
  }
}

/** Batches a version can run at once: its instance count, bounded by its pool's workers. */
function slotsOf(mv: ModelVersion): number {
  const instances = mv.config.instance_group.reduce((n, g) => n + g.count, 0);
  return Math.min(instances > 0 ? instances : mv.pool.size, mv.pool.size);
}

/** Status codes a gateway answers, back to error kinds (for the job's handling of bad rows). */
function kindOfStatus(status: number): ErrorKind {
  if (status === 400) return 'invalid_argument';
  if (status === 404) return 'not_found';
  if (status === 503) return 'unavailable';
  if (status === 504) return 'deadline_exceeded';
  if (status === 413) return 'payload_too_large';
  return 'internal';
}

function jsonTensor(t: Tensor): Record<string, unknown> {
  const d = t.data;
  let data: unknown[];
  if (Array.isArray(d)) data = d.map((x) => (typeof x === 'string' ? x : Buffer.from(x).toString('utf8')));
  else if (t.datatype === 'BOOL') data = Array.from(d as Uint8Array, (x) => x !== 0);
  else if (d instanceof BigInt64Array || d instanceof BigUint64Array) data = Array.from(d, Number);
  else data = Array.from(d as Float32Array);
  return { name: t.name, datatype: t.datatype, shape: t.shape, data };
}

function tensorFromJson(o: Record<string, unknown>): Tensor {
  const datatype = o.datatype;
  if (typeof o.name !== 'string' || !isDatatype(datatype) || !Array.isArray(o.shape) || !Array.isArray(o.data)) {
    throw new InferError('internal', 'the gateway answered an output without name, datatype, shape and data');
  }
  const raw = o.data.flat(Infinity) as unknown[];
  let data: TensorData;
  if (datatype === 'BYTES') data = raw.map(String);
  else if (datatype === 'BOOL') data = Uint8Array.from(raw, (x) => (x ? 1 : 0));
  else if (datatype === 'INT64' || datatype === 'UINT64') data = (ARRAY_OF[datatype] as BigInt64ArrayConstructor).from(raw, (x) => BigInt(x as number));
  else data = (ARRAY_OF[datatype as Exclude<Datatype, 'BYTES'>] as Float64ArrayConstructor).from(raw as number[]);
  return { name: o.name, datatype, shape: o.shape as number[], data };
}

/** Sends a job's requests to a running gateway's OIP v2 HTTP endpoint (`--url`). */
export class HttpInferrer implements RowInferrer {
  private readonly base: string;
  private readonly path: string;

  constructor(url: string, private readonly model: string, version: string | undefined) {
    this.base = url.replace(/\/+$/, '');
    this.path = `/v2/models/${encodeURIComponent(model)}${version ? `/versions/${encodeURIComponent(version)}` : ''}`;
  }

  async signature(): Promise<JobSignature> {
    const res = await fetch(`${this.base}${this.path}`).catch((err: Error) => {
      throw new InferError('unavailable', `cannot reach the gateway at ${this.base}: ${err.message}`);
    });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) throw new InferError(kindOfStatus(res.status), `model metadata: ${String(body.error ?? res.statusText)}`);
    const params = (body.parameters ?? {}) as Record<string, unknown>;
    return {
      model: this.model,
      inputs: body.inputs as TensorMetadata[],
      outputs: body.outputs as TensorMetadata[],
      maxBatchSize: typeof params.max_batch_size === 'number' ? params.max_batch_size : 0,
      // A fused feature lookup there: rows carry entity ids, the gateway builds the input.
      entityInput: typeof params.feature_entity_input === 'string' ? params.feature_entity_input : undefined,
      builtInput: typeof params.feature_built_input === 'string' ? params.feature_built_input : undefined,
    };
  }

  backgroundPriority(): number | undefined {
    return undefined;
  }

  async infer(req: InferRequest): Promise<InferResponse> {
    const body = JSON.stringify({ id: req.id, inputs: req.inputs.map(jsonTensor), parameters: req.parameters, outputs: req.outputs });
    const res = await fetch(`${this.base}${this.path}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).catch((err: Error) => {
      throw new InferError('unavailable', `cannot reach the gateway at ${this.base}: ${err.message}`);
    });
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      const message = String(json.error ?? res.statusText);
      throw UnknownEntityError.fromAnswer(res.status, message) ?? new InferError(kindOfStatus(res.status), message);
    }
    return {
      model_name: String(json.model_name),
      model_version: String(json.model_version),
      id: json.id as string | undefined,
      outputs: (json.outputs as Record<string, unknown>[]).map(tensorFromJson),
    };
  }
}
