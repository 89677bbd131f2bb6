import type { ModelConfig } from '../config/model-config.js';
import type { InferRequest, Parameters, Tensor, TensorMetadata } from '../protocol/types.js';
import type { RequestTrace } from '../telemetry/tracing.js';
import type { Cancellation } from './cancellation.js';

/**
 * The steps of one request's way through the dataplane:
 *   resolve (router) -> enrich -> batch and compute -> observe.
 * Capabilities beside serving (registry, rollouts, features, monitor) plug in here as
 * steps; protocol layers never know they exist. An absent step costs nothing.
 */

/** Where a request came from; also a metrics label. */
export type RequestSource = 'http' | 'grpc' | 'batch' | 'stream' | 'direct';

/** What one call carries through the pipeline, whatever the protocol. */
export interface RequestContext {
  readonly source: RequestSource;
  /** HTTP headers or gRPC metadata, lower-case keys; read-only; empty for jobs. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Sticky key for routing (a rollout's arm): request parameter `routing_key` or a header. */
  routingKey?: string;
  /**
   * Set by an alias source that splits a model's traffic (a rollout's weight): the share (0-1]
   * of it the chosen version gets. Batching holds such requests a little longer (batcher.ts).
   */
  trafficShare?: number;
  /** The caller's identity; empty until authentication exists. */
  identity?: string;
  /** The request's trace, when tracing is on. */
  trace?: RequestTrace;
  /** Cancelled when the client goes away or its deadline passes. */
  cancel?: Cancellation;
  /** Parameters steps add to the response (`feature_warnings`, `skew_warnings`, `rollout`). */
  responseParameters?: Parameters;
}

/** A loaded model version as the steps see it. */
export interface VersionView {
  readonly name: string;
  readonly version: string;
  readonly config: ModelConfig;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
  /** 0 when the model does not batch (the first dimension is then not a batch axis). */
  readonly maxBatchSize: number;
  /** The model's folder: holds config.yaml and the version folders. */
  readonly dir: string;
}

/** May add or replace input tensors before the request is validated and queued (feature lookup). */
export interface EnrichStep {
  readonly name: string;
  /** Whether this step has work for a version; asked once per request, must be cheap. */
  appliesTo(v: VersionView): boolean;
  /** Adds or replaces `req.inputs`; throws an InferError to refuse the request. */
  enrich(req: InferRequest, v: VersionView, ctx: RequestContext): void | Promise<void>;
  /** What a client must know of this step to call the version (added to its metadata's parameters). */
  describe?(v: VersionView): Parameters | undefined;
}

/** One finished inference as an observer sees it. */
export interface ObservedInference {
  readonly ctx: RequestContext;
  readonly version: VersionView;
  /** The request as decoded (its `id` and `parameters`); inputs as the client sent them. */
  readonly request: InferRequest;
  /** The inputs as computed (after enrich), in the model's input order. */
  readonly inputs: readonly Tensor[];
  /** Every output of the model for this request, in the model's output order. */
  readonly outputs: readonly Tensor[];
}

/** Sees every successful inference after its answer is ready; must not delay it or throw. */
export interface ObserveStep {
  readonly name: string;
  appliesTo(v: VersionView): boolean;
  observe(o: ObservedInference): void;
}

/** One routed inference's outcome, success or failure (rollout analysis counts both). */
export interface InferOutcome {
  readonly ctx: RequestContext;
  readonly model: string;
  readonly version: string;
  readonly seconds: number;
  /** What the request failed with; undefined when it succeeded. */
  readonly error?: unknown;
}

/** Sees the outcome of every request after resolve (answer or error); must be cheap and never throw. */
export interface OutcomeStep {
  readonly name: string;
  /** Whether this request's outcome is wanted, asked once it is resolved (a rollout: it was routed); must be cheap. */
  wants(ctx: RequestContext): boolean;
  outcome(o: InferOutcome): void;
}

/**
 * Knows names for versions beyond their numbers (the registry's aliases), and which version
 * a request that names none should get (a serving alias, or a rollout's arm by routing key).
 */
export interface AliasSource {
  /** The version number an alias names for a model, or undefined when it knows none. */
  versionFor(model: string, alias: string): string | undefined;
  /** The version a request that names none should get, or undefined to leave it to the next source or the version policy. */
  defaultVersion(model: string, ctx?: RequestContext): string | undefined;
}

/** Prepares a capability's state for a version as it loads; throwing fails the load with its message. */
export interface VersionHook {
  readonly name: string;
  load(v: VersionView): void | Promise<void>;
  unload(v: VersionView): void;
}
