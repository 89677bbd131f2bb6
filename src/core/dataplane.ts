import { clipJson } from '../protocol/clip.js';
import { InferError, invalid, unavailable } from '../protocol/errors.js';
import { versionNotReady } from '../protocol/triton-errors.js';
import type { InferRequest, InferResponse, ModelMetadata, Parameters, ServerMetadata, Tensor } from '../protocol/types.js';
import type { IndexEntry, ModelLifecycle } from './lifecycle.js';
import type { ModelVersion } from './model.js';
import { type TritonModelConfig, loadedModelFacts, tritonModelConfig } from './model-config-view.js';
import type { EnrichStep, ObserveStep, OutcomeStep, RequestContext } from './pipeline.js';
import type { Router } from './router.js';
import type { ModelStatsJson } from './stats.js';

export const DEFAULT_SERVER_NAME = 'infergate';
export const SERVER_EXTENSIONS = [
  'binary_tensor_data', 'model_repository', 'statistics', 'schedule_policy', 'model_configuration',
] as const;

/** The context of a call made straight on the dataplane (tests, embedding code). */
const DIRECT: RequestContext = Object.freeze({ source: 'direct', headers: Object.freeze({}) });

export interface DataPlaneOptions {
  lifecycle: ModelLifecycle;
  router: Router;
  /** The server's version, in server metadata. */
  version: string;
  /** The server's name in server metadata (default infergate). */
  serverName?: string;
}

/**
 * The one protocol-agnostic entry: health, metadata, inference, statistics and repository
 * control. Inference runs the request's steps in order: resolve (router) -> enrich ->
 * batch and compute -> observe. HTTP and gRPC layers only decode, call this, and encode.
 */
export class DataPlane {
  private drainingNow = false;
  private started = false;
  private readonly lifecycle: ModelLifecycle;
  readonly router: Router;
  private readonly enrichSteps: EnrichStep[] = [];
  private readonly observeSteps: ObserveStep[] = [];
  private readonly outcomeSteps: OutcomeStep[] = [];

  constructor(private readonly opts: DataPlaneOptions) {
    this.lifecycle = opts.lifecycle;
    this.router = opts.router;
  }

  /** Adds a step that may add or replace inputs before compute; steps run in order (`first` puts this one before the others). */
  addEnrichStep(step: EnrichStep, first = false): void {
    if (first) this.enrichSteps.unshift(step);
    else this.enrichSteps.push(step);
  }

  /** Adds a step that sees every successful inference after its answer is ready. */
  addObserveStep(step: ObserveStep): void {
    this.observeSteps.push(step);
  }

  /** Adds a step that sees every resolved request's outcome, answered or failed (rollout analysis). */
  addOutcomeStep(step: OutcomeStep): void {
    this.outcomeSteps.push(step);
  }

  /** Marks startup complete (models loaded as the mode says). */
  markStarted(): void {
    this.started = true;
    this.changed();
  }

  private readonly watchers = new Set<() => void>();

  /**
   * Calls `listener` whenever readiness may have changed: a version loaded, failed or
   * unloaded, startup finished, draining began. Returns the unsubscribe function.
   */
  watch(listener: () => void): () => void {
    this.watchers.add(listener);
    const off = this.lifecycle.on(listener);
    return () => {
      off();
      this.watchers.delete(listener);
    };
  }

  private changed(): void {
    for (const w of this.watchers) w();
  }

  live(): boolean {
    return true;
  }

  /** Ready when started, not draining, and every model version that should be loaded is READY (Triton's strict readiness). */
  ready(): boolean {
    if (!this.started || this.drainingNow) return false;
    if (this.lifecycle.configErrors().length > 0) return false;
    return this.lifecycle.versions().every((v) => v.state === 'READY' || v.state === 'UNLOADING');
  }

  /** Whether a drain has begun (new requests are refused). */
  get draining(): boolean {
    return this.drainingNow;
  }

  serverMetadata(): ServerMetadata {
    return { name: this.opts.serverName ?? DEFAULT_SERVER_NAME, version: this.opts.version, extensions: [...SERVER_EXTENSIONS] };
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const mv = this.servedVersion(name, version);
    const versions = version ? [mv.version] : this.router.versionsOf(name).filter((v) => v.state === 'READY').map((v) => v.version);
    return {
      name,
      versions,
      platform: 'onnxruntime_onnx',
      inputs: mv.inputs,
      outputs: mv.outputs,
      parameters: { ...placement(mv), ...this.servingParameters(name), ...this.stepParameters(mv) },
    };
  }

  /** The model configuration extension: the version's configuration as Triton's ModelConfig. */
  modelConfig(name: string, version?: string): TritonModelConfig {
    return tritonModelConfig(loadedModelFacts(this.servedVersion(name, version)));
  }

  /** The version a metadata or config request names, if it is loaded (its inputs and outputs are known). */
  private servedVersion(name: string, version?: string): ModelVersion {
    const mv = this.router.resolve(name, version);
    if (mv.state !== 'READY' && mv.state !== 'UNLOADING') {
      throw unavailable(`${versionNotReady(name, mv.version)} (${mv.state}${mv.reason ? `: ${mv.reason}` : ''})`);
    }
    return mv;
  }

  /** What the enrich steps that apply to a version tell its clients (the feature lookup: which input carries the ids). */
  private stepParameters(mv: ModelVersion): Parameters {
    let p: Parameters | undefined;
    for (const s of this.enrichSteps) if (s.describe && s.appliesTo(mv)) p = { ...p, ...s.describe(mv) };
    return p ?? {};
  }

  /** For a catalog model (the registry): its serving alias, the aliases that serve, and versions that do not serve and why. */
  private servingParameters(name: string): Parameters {
    const entry = this.lifecycle.model(name);
    if (!entry?.servingAlias) return {};
    const p: Parameters = { serving_alias: entry.servingAlias, aliases: [...entry.aliases].map(([a, v]) => `${a}=${v}`).join(',') };
    if (entry.notices.size) p.serving_notices = [...entry.notices].map(([v, n]) => `version ${v}: ${n}`).join('; ');
    return p;
  }

  /** Whether a model of this name is known (loaded or failed). */
  hasModel(name: string): boolean {
    return this.router.has(name);
  }

  modelReady(name: string, version?: string): boolean {
    try {
      return this.router.resolve(name, version).state === 'READY' && !this.drainingNow;
    } catch (err) {
      if (err instanceof InferError && err.kind === 'unavailable') return false;
      throw err;
    }
  }

  /**
   * The largest request body a model version can need (from its signature), so that a
   * front end can refuse an oversized body before reading it; undefined when unbounded or
   * when the model is unknown (the request then fails on its own).
   */
  requestByteLimit(name: string, version: string | undefined): number | undefined {
    try {
      return this.router.resolve(name, version).requestByteLimit;
    } catch {
      return undefined;
    }
  }

  /** Runs one inference request through its steps: resolve, enrich, batch and compute, observe. */
  async infer(name: string, version: string | undefined, req: InferRequest, ctx: RequestContext = DIRECT): Promise<InferResponse> {
    if (this.drainingNow) throw unavailable('server is shutting down and takes no new requests');
    if (ctx === DIRECT) ctx = { source: 'direct', headers: DIRECT.headers };
    // The sticky key for a rollout's arm, read before the router picks the version.
    const key = req.parameters?.routing_key;
    if (ctx.routingKey === undefined && (typeof key === 'string' || typeof key === 'number')) ctx.routingKey = String(key);
    const mv = this.router.resolve(name, version, ctx);
    let wanted: OutcomeStep[] | undefined;
    for (const s of this.outcomeSteps) if (s.wants(ctx)) (wanted ??= []).push(s);
    if (!wanted) return this.run(name, mv, req, ctx);
    const t0 = performance.now();
    let error: unknown;
    try {
      return await this.run(name, mv, req, ctx);
    } catch (err) {
      error = err;
      throw err;
    } finally {
      const o = { ctx, model: name, version: mv.version, seconds: (performance.now() - t0) / 1000, error };
      for (const s of wanted) {
        try {
          s.outcome(o);
        } catch {
          // Counting must never fail a request.
        }
      }
    }
  }

  /** Enrich, batch and compute, observe: one resolved request. */
  private async run(name: string, mv: ModelVersion, req: InferRequest, ctx: RequestContext): Promise<InferResponse> {
    ctx.trace?.span.setAttributes({ 'infergate.model': name, 'infergate.version': mv.version });
    for (const step of this.enrichSteps) if (step.appliesTo(mv)) await step.enrich(req, mv, ctx);
    let observers: ObserveStep[] | undefined;
    for (const s of this.observeSteps) if (s.appliesTo(mv)) (observers ??= []).push(s);
    if (observers) mv.keepInputs = true;
    const params = req.parameters ?? {};
    const result = await mv.infer(req, {
      priority: uintParam(params, 'priority'),
      timeoutUs: uintParam(params, 'timeout'),
      cancel: ctx.cancel,
      trace: ctx.trace,
      trafficShare: ctx.trafficShare,
    });
    if (observers) {
      // After the answer: the observers must not delay it.
      const seen = { ctx, version: mv, request: req, inputs: result.inputs, outputs: result.outputs };
      setImmediate(() => {
        for (const o of observers) {
          try {
            o.observe(seen);
          } catch {
            // An observer must never fail a request that already has its answer.
          }
        }
      });
    }
    const wanted = result.wanted;
    const outputs: Tensor[] = wanted ? result.outputs.filter((t) => wanted.has(t.name)) : result.outputs;
    const res: InferResponse = { model_name: name, model_version: mv.version, id: req.id, outputs };
    if (ctx.responseParameters) res.parameters = ctx.responseParameters;
    return res;
  }

  /** Statistics for one model (all its versions, or one) or for every model. */
  statistics(name?: string, version?: string): ModelStatsJson[] {
    if (!name) return this.lifecycle.versions().map((v) => v.stats.toJSON());
    if (version) return [this.router.resolve(name, version).stats.toJSON()];
    return this.router.versionsOf(name).map((v) => v.stats.toJSON());
  }

  repositoryIndex(readyOnly = false): Promise<IndexEntry[]> {
    return this.lifecycle.index(readyOnly);
  }

  loadModel(name: string): Promise<void> {
    return this.lifecycle.load(name);
  }

  unloadModel(name: string): Promise<void> {
    return this.lifecycle.unload(name);
  }

  /** Stops taking requests and resolves when every queued and running request has finished. */
  async drain(): Promise<void> {
    this.drainingNow = true;
    this.changed();
    await this.lifecycle.stop();
    await Promise.all(this.lifecycle.versions().map((v) => v.idle()));
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
