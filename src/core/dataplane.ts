import { clipJson } from '../protocol/clip.js';
import { InferError, invalid, unavailable } from '../protocol/errors.js';
import type { InferRequest, InferResponse, ModelMetadata, Parameters, ServerMetadata } from '../protocol/types.js';
import type { RequestTrace } from '../telemetry/tracing.js';
import type { Cancellation } from './cancellation.js';
import type { ModelVersion } from './model.js';
import type { IndexEntry, ModelRepository } from './repository.js';
import type { ModelStatsJson } from './stats.js';

export const SERVER_NAME = 'infergate';
export const SERVER_EXTENSIONS = [
  'binary_tensor_data', 'model_repository', 'statistics', 'schedule_policy', 'model_configuration',
] as const;

/** Per-call context a protocol layer passes in. */
export interface InferContext {
  /** Cancelled when the client goes away or its deadline passes. */
  cancel?: Cancellation;
  /** The request's trace, when tracing is on. */
  trace?: RequestTrace;
}

/**
 * The one protocol-agnostic entry: health, metadata, inference, statistics and
 * repository control. HTTP and gRPC layers only decode, call this, and encode.
 */
export class DataPlane {
  private draining = false;
  private started = false;

  constructor(
    readonly repository: ModelRepository,
    private readonly version: string,
  ) {}

  /** Marks startup complete (models loaded as the mode says). */
  markStarted(): void {
    this.started = true;
  }

  live(): boolean {
    return true;
  }

  /** Ready when started, not draining, and every model version that should be loaded is READY (Triton's strict readiness). */
  ready(): boolean {
    if (!this.started || this.draining) return false;
    if (this.repository.configErrors().length > 0) return false;
    return this.repository.versions().every((v) => v.state === 'READY' || v.state === 'UNLOADING');
  }

  get isDraining(): boolean {
    return this.draining;
  }

  serverMetadata(): ServerMetadata {
    return { name: SERVER_NAME, version: this.version, extensions: [...SERVER_EXTENSIONS] };
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const mv = this.repository.resolve(name, version);
    if (mv.state !== 'READY' && mv.state !== 'UNLOADING') {
      throw unavailable(`model '${name}' version ${mv.version} is not ready (state ${mv.state}${mv.reason ? `: ${mv.reason}` : ''})`);
    }
    const versions = version ? [mv.version] : this.repository.versionsOf(name).filter((v) => v.state === 'READY').map((v) => v.version);
    return {
      name,
      versions,
      platform: 'onnxruntime_onnx',
      inputs: mv.inputs,
      outputs: mv.outputs,
      parameters: placement(mv),
    };
  }

  /** Whether a model of this name is known to the repository (loaded or failed). */
  hasModel(name: string): boolean {
    return this.repository.has(name);
  }

  modelReady(name: string, version?: string): boolean {
    try {
      return this.repository.resolve(name, version).state === 'READY' && !this.draining;
    } catch (err) {
      if (err instanceof InferError && err.kind === 'unavailable') return false;
      throw err;
    }
  }

  /** Runs one inference request through the model's batcher. */
  async infer(name: string, version: string | undefined, req: InferRequest, ctx: InferContext = {}): Promise<InferResponse> {
    if (this.draining) throw unavailable('server is shutting down and takes no new requests');
    const mv = this.repository.resolve(name, version);
    ctx.trace?.span.setAttributes({ 'infergate.model': name, 'infergate.version': mv.version });
    const params = req.parameters ?? {};
    const outputs = await mv.infer(req, {
      priority: uintParam(params, 'priority'),
      timeoutUs: uintParam(params, 'timeout'),
      cancel: ctx.cancel,
      trace: ctx.trace,
    });
    return { model_name: name, model_version: mv.version, id: req.id, outputs };
  }

  /** Statistics for one model (all its versions, or one) or for every model. */
  statistics(name?: string, version?: string): ModelStatsJson[] {
    if (!name) return this.repository.versions().map((v) => v.stats.toJSON());
    if (version) return [this.repository.resolve(name, version).stats.toJSON()];
    return this.repository.versionsOf(name).map((v) => v.stats.toJSON());
  }

  repositoryIndex(readyOnly = false): Promise<IndexEntry[]> {
    return this.repository.index(readyOnly);
  }

  loadModel(name: string): Promise<void> {
    return this.repository.load(name);
  }

  unloadModel(name: string): Promise<void> {
    return this.repository.unload(name);
  }

  /** Stops taking requests and resolves when every queued and running request has finished. */
  async drain(): Promise<void> {
    this.draining = true;
    await this.repository.stop();
    await Promise.all(this.repository.versions().map((v) => v.idle()));
  }
}

/** Where a version runs, reported in its metadata parameters. */
function placement(mv: ModelVersion): Parameters {
  const p: Parameters = { max_batch_size: mv.maxBatchSize, execution_provider: mv.provider ?? 'none' };
  if (mv.fallbackReason) p.provider_fallback_reason = mv.fallbackReason;
  return p;
}

function uintParam(params: Parameters, key: string): number | undefined {
  const v = params[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw invalid(`parameter '${key}' must be a non-negative integer, got ${clipJson(v)}`);
  }
  return v;
}
