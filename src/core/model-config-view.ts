import type { InstanceKind, ModelConfig, ProviderSpec, VersionPolicy, Warmup } from '../config/model-config.js';
import type { Datatype } from '../protocol/datatypes.js';
import type { TensorMetadata } from '../protocol/types.js';
import type { ModelVersion } from './model.js';

/**
 * The model configuration extension's answer: a loaded model version described as Triton's
 * `ModelConfig` (triton-inference-server/common protobuf/model_config.proto), in the JSON
 * form Triton's HTTP server prints it (proto field names, every scalar and repeated field
 * present even when default, 64-bit integers as numbers). The gRPC `ModelConfig` RPC sends
 * the same object through proto/grpc_predict_v2.proto, whose messages keep Triton's field
 * numbers. Only the fields infergate has a value for are filled; the rest of Triton's
 * schema (sequence batching, ensembles, optimization, ...) does not apply and is left out.
 */

export type TritonDataType = `TYPE_${Exclude<Datatype, 'BYTES'>}` | 'TYPE_STRING';
export type TritonKind = Exclude<InstanceKind, 'KIND_AUTO'>;

export interface TritonModelInput {
  name: string;
  data_type: TritonDataType;
  format: 'FORMAT_NONE';
  /** Without the batch dimension when max_batch_size > 0; -1 marks a variable size. */
  dims: number[];
  is_shape_tensor: boolean;
  allow_ragged_batch: boolean;
  optional: boolean;
  is_non_linear_format_io: boolean;
}

export interface TritonModelOutput {
  name: string;
  data_type: TritonDataType;
  dims: number[];
  label_filename: string;
  is_shape_tensor: boolean;
  is_non_linear_format_io: boolean;
}

export interface TritonQueuePolicy {
  timeout_action: 'REJECT';
  default_timeout_microseconds: number;
  allow_timeout_override: boolean;
  max_queue_size: number;
}

export interface TritonDynamicBatching {
  preferred_batch_size: number[];
  max_queue_delay_microseconds: number;
  preserve_ordering: boolean;
  priority_levels: number;
  default_priority_level: number;
  default_queue_policy: TritonQueuePolicy;
  priority_queue_policy: Record<string, TritonQueuePolicy>;
}

export interface TritonInstanceGroup {
  name: string;
  kind: TritonKind;
  count: number;
  gpus: number[];
  profile: string[];
  passive: boolean;
  host_policy: string;
}

export interface TritonWarmupInput {
  data_type: TritonDataType;
  dims: number[];
  zero_data?: boolean;
  random_data?: boolean;
}

export interface TritonWarmup {
  name: string;
  batch_size: number;
  inputs: Record<string, TritonWarmupInput>;
  count: number;
}

export interface TritonModelConfig {
  name: string;
  platform: 'onnxruntime_onnx';
  backend: 'onnxruntime';
  runtime: string;
  version_policy: VersionPolicy;
  max_batch_size: number;
  input: TritonModelInput[];
  output: TritonModelOutput[];
  batch_input: never[];
  batch_output: never[];
  dynamic_batching: TritonDynamicBatching;
  instance_group: TritonInstanceGroup[];
  default_model_filename: string;
  cc_model_filenames: Record<string, string>;
  metric_tags: Record<string, string>;
  parameters: Record<string, { string_value: string }>;
  model_warmup: TritonWarmup[];
}

/** What the view needs from a loaded version (a ModelVersion provides it). */
export interface LoadedModelFacts {
  name: string;
  config: ModelConfig;
  maxBatchSize: number;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** The provider the version actually runs on, after any fallback. */
  provider: string;
  fallbackReason?: string;
  /** The providers asked for, with their options (device_id). */
  providers: ProviderSpec[];
  intraOpThreads: number;
  /** Workers of the version's pool: how many batches run at once when instance_group is not set. */
  poolSize: number;
}

/** The facts of a loaded ModelVersion. */
export function loadedModelFacts(mv: ModelVersion): LoadedModelFacts {
  return {
    name: mv.name,
    config: mv.config,
    maxBatchSize: mv.maxBatchSize,
    inputs: mv.inputs,
    outputs: mv.outputs,
    provider: mv.provider ?? 'cpu',
    fallbackReason: mv.fallbackReason,
    providers: mv.spec.providers,
    intraOpThreads: mv.spec.intraOpThreads,
    poolSize: mv.pool.size,
  };
}

/** OIP datatype -> Triton's config enum name (BYTES is TYPE_STRING there). */
export function tritonDataType(dt: Datatype): TritonDataType {
  return dt === 'BYTES' ? 'TYPE_STRING' : `TYPE_${dt}`;
}

/** A warm-up data_type as written in config.yaml (TYPE_FP32 or FP32) -> Triton's enum name. */
function warmupDataType(t: string): TritonDataType {
  return (t.startsWith('TYPE_') ? t : tritonDataType(t as Datatype)) as TritonDataType;
}

function queuePolicy(config: ModelConfig): TritonQueuePolicy {
  const q = config.dynamic_batching.default_queue_policy;
  return {
    timeout_action: 'REJECT',
    default_timeout_microseconds: q.default_timeout_microseconds,
    allow_timeout_override: q.allow_timeout_override,
    max_queue_size: q.max_queue_size,
  };
}

/** The instance groups as they run: KIND_AUTO resolved, and a CPU fallback shown as KIND_CPU. */
function instanceGroups(m: LoadedModelFacts): TritonInstanceGroup[] {
  const onGpu = m.provider !== 'cpu';
  const kind: TritonKind = onGpu ? 'KIND_GPU' : 'KIND_CPU';
  const deviceId = m.providers.find((p) => p.name === m.provider)?.options.device_id;
  const defaultGpus = m.provider === 'cuda' ? [deviceId ?? 0] : [];
  const groups = m.config.instance_group.length ? m.config.instance_group : [{ count: m.poolSize, kind, gpus: [] as number[] }];
  return groups.map((g, i) => ({
    name: `${m.name}_${i}`,
    kind,
    count: g.count,
    gpus: onGpu ? (g.gpus.length ? g.gpus : defaultGpus) : [],
    profile: [],
    passive: false,
    host_policy: '',
  }));
}

function warmups(list: Warmup[]): TritonWarmup[] {
  return list.map((w) => ({
    name: w.name,
    batch_size: w.batch_size,
    inputs: Object.fromEntries(
      Object.entries(w.inputs).map(([name, i]) => [name, { data_type: warmupDataType(i.data_type), dims: i.dims, [i.source]: true }]),
    ),
    count: w.count,
  }));
}

/** A loaded model version as Triton's ModelConfig (JSON form); pure. */
export function tritonModelConfig(m: LoadedModelFacts): TritonModelConfig {
  const batching = m.maxBatchSize > 0;
  // Triton's dims leave the batch dimension out when the model batches.
  const dims = (t: TensorMetadata) => (batching ? t.shape.slice(1) : t.shape);
  const db = m.config.dynamic_batching;
  const parameters: Record<string, { string_value: string }> = {
    // The onnxruntime backend's own parameter name for the same setting.
    intra_op_thread_count: { string_value: String(m.intraOpThreads) },
    execution_provider: { string_value: m.provider },
  };
  if (m.fallbackReason) parameters.provider_fallback_reason = { string_value: m.fallbackReason };
  return {
    name: m.name,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    runtime: '',
    version_policy: m.config.version_policy,
    max_batch_size: m.maxBatchSize,
    input: m.inputs.map((t) => ({
      name: t.name, data_type: tritonDataType(t.datatype), format: 'FORMAT_NONE', dims: dims(t),
      is_shape_tensor: false, allow_ragged_batch: false, optional: false, is_non_linear_format_io: false,
    })),
    output: m.outputs.map((t) => ({
      name: t.name, data_type: tritonDataType(t.datatype), dims: dims(t),
      label_filename: '', is_shape_tensor: false, is_non_linear_format_io: false,
    })),
    batch_input: [],
    batch_output: [],
    dynamic_batching: {
      preferred_batch_size: db.preferred_batch_size,
      max_queue_delay_microseconds: db.max_queue_delay_microseconds,
      preserve_ordering: false,
      priority_levels: db.priority_levels,
      default_priority_level: db.default_priority_level,
      default_queue_policy: queuePolicy(m.config),
      priority_queue_policy: {},
    },
    instance_group: instanceGroups(m),
    default_model_filename: 'model.onnx',
    cc_model_filenames: {},
    metric_tags: {},
    parameters,
    model_warmup: warmups(m.config.model_warmup),
  };
}
