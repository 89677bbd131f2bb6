import { parse as parseYaml } from 'yaml';
import type { Datatype } from '../protocol/datatypes.js';
import { ConfigError, type Obj, bool, int, intList, isObj, obj, onlyKeys, str } from './validate.js';

/**
 * A model's config.yaml: Triton's config.pbtxt vocabulary written as YAML, plus
 * `execution_providers`. Every field has a default; unknown keys are errors.
 */

export interface QueuePolicy {
  /** Requests allowed to wait; 0 = unlimited (Triton). */
  max_queue_size: number;
  /** How long a request may wait in the queue; 0 = forever. */
  default_timeout_microseconds: number;
  /** Whether a request's own `timeout` parameter may lower the default. */
  allow_timeout_override: boolean;
}

export interface DynamicBatching {
  preferred_batch_size: number[];
  max_queue_delay_microseconds: number;
  /** Number of priority levels; 0 = one level. Level 1 is served first. */
  priority_levels: number;
  default_priority_level: number;
  default_queue_policy: QueuePolicy;
}

export type InstanceKind = 'KIND_AUTO' | 'KIND_CPU' | 'KIND_GPU';
export interface InstanceGroup {
  count: number;
  kind: InstanceKind;
  gpus: number[];
}

export type VersionPolicy =
  | { latest: { num_versions: number } }
  | { all: Record<string, never> }
  | { specific: { versions: number[] } };

export type ProviderName = 'cpu' | 'cuda' | 'webgpu';
export const PROVIDERS: readonly ProviderName[] = ['cpu', 'cuda', 'webgpu'];

/** One execution provider with the options that reach onnxruntime (device_id, intra_op_threads). */
export interface ProviderSpec {
  name: ProviderName;
  /** Fail the load instead of falling back when this provider cannot be used. */
  require: boolean;
  options: Record<string, number>;
}

export interface WarmupInput {
  /** OIP datatype (the config may say TYPE_FP32 as Triton does, or FP32). */
  data_type: Datatype;
  dims: number[];
  source: 'zero_data' | 'random_data';
}
export interface Warmup {
  name: string;
  batch_size: number;
  count: number;
  inputs: Record<string, WarmupInput>;
}

export interface ModelConfig {
  /** undefined: derive from the ONNX file (64 when its batch axis is dynamic, else 0). */
  max_batch_size: number | undefined;
  dynamic_batching: DynamicBatching;
  instance_group: InstanceGroup[];
  version_policy: VersionPolicy;
  model_warmup: Warmup[];
  /** Empty: the server's default providers (or what instance_group kind implies). */
  execution_providers: ProviderSpec[];
  /**
   * Blocks that belong to the capabilities beside serving (monitoring, features, streams),
   * kept raw here: each capability validates its own block when the version loads, so the
   * config layer knows nothing of them.
   */
  extensions: Partial<Record<ExtensionKey, unknown>>;
}

/** Top-level config.yaml keys owned by a capability outside core (see ModelConfig.extensions). */
export const EXTENSION_KEYS = ['monitoring', 'features', 'streams'] as const;
export type ExtensionKey = (typeof EXTENSION_KEYS)[number];

/**
 * Options that reach onnxruntime through onnxruntime-node 1.29.0. Its binding reads only
 * `deviceId` for the CUDA provider (session_options_helper.cc) and rejects unknown WebGPU
 * options, so anything else would be silently dropped: we refuse it instead.
 */
const PROVIDER_OPTIONS: Record<ProviderName, readonly string[]> = {
  cpu: ['intra_op_threads'],
  cuda: ['device_id'],
  webgpu: [],
};

/** Known onnxruntime provider options that onnxruntime-node cannot pass: named in the error. */
const UNREACHABLE_OPTIONS: Record<ProviderName, readonly string[]> = {
  cpu: [],
  cuda: ['gpu_mem_limit', 'arena_extend_strategy', 'cudnn_conv_algo_search', 'do_copy_in_default_stream'],
  webgpu: ['device_id'],
};

function parseQueuePolicy(v: unknown, where: string): QueuePolicy {
  const o = obj(v, where);
  onlyKeys(o, ['max_queue_size', 'default_timeout_microseconds', 'allow_timeout_override', 'timeout_action'], where);
  str(o.timeout_action, `${where}.timeout_action`, ['REJECT'] as const, 'REJECT');
  return {
    max_queue_size: int(o.max_queue_size, `${where}.max_queue_size`, 0),
    default_timeout_microseconds: int(o.default_timeout_microseconds, `${where}.default_timeout_microseconds`, 0),
    allow_timeout_override: bool(o.allow_timeout_override, `${where}.allow_timeout_override`, true),
  };
}

function parseDynamicBatching(v: unknown): DynamicBatching {
  const where = 'dynamic_batching';
  const o = obj(v, where);
  onlyKeys(o, ['preferred_batch_size', 'max_queue_delay_microseconds', 'priority_levels', 'default_priority_level', 'default_queue_policy'], where);
  const priority_levels = int(o.priority_levels, `${where}.priority_levels`, 0);
  const default_priority_level = int(o.default_priority_level, `${where}.default_priority_level`, priority_levels > 0 ? priority_levels : 0);
  if (priority_levels > 0 && (default_priority_level < 1 || default_priority_level > priority_levels)) {
    throw new ConfigError(`${where}.default_priority_level: must be between 1 and priority_levels (${priority_levels})`);
  }
  return {
    preferred_batch_size: intList(o.preferred_batch_size, `${where}.preferred_batch_size`, 1),
    max_queue_delay_microseconds: int(o.max_queue_delay_microseconds, `${where}.max_queue_delay_microseconds`, 0),
    priority_levels,
    default_priority_level,
    default_queue_policy: parseQueuePolicy(o.default_queue_policy, `${where}.default_queue_policy`),
  };
}

function parseInstanceGroups(v: unknown): InstanceGroup[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ConfigError('instance_group: must be a list');
  return v.map((g, i) => {
    const where = `instance_group[${i}]`;
    const o = obj(g, where);
    onlyKeys(o, ['count', 'kind', 'gpus', 'name'], where);
    return {
      count: int(o.count, `${where}.count`, 1, 1),
      kind: str(o.kind, `${where}.kind`, ['KIND_AUTO', 'KIND_CPU', 'KIND_GPU'] as const, 'KIND_AUTO'),
      gpus: intList(o.gpus, `${where}.gpus`),
    };
  });
}

function parseVersionPolicy(v: unknown): VersionPolicy {
  if (v === undefined) return { latest: { num_versions: 1 } };
  const o = obj(v, 'version_policy');
  onlyKeys(o, ['latest', 'all', 'specific'], 'version_policy');
  const keys = Object.keys(o);
  if (keys.length !== 1) throw new ConfigError('version_policy: give exactly one of latest, all, specific');
  if (keys[0] === 'latest') {
    const l = obj(o.latest, 'version_policy.latest');
    onlyKeys(l, ['num_versions'], 'version_policy.latest');
    return { latest: { num_versions: int(l.num_versions, 'version_policy.latest.num_versions', 1, 1) } };
  }
  if (keys[0] === 'all') return { all: {} };
  const s = obj(o.specific, 'version_policy.specific');
  onlyKeys(s, ['versions'], 'version_policy.specific');
  const versions = intList(s.versions, 'version_policy.specific.versions', 1);
  if (versions.length === 0) throw new ConfigError('version_policy.specific.versions: must list at least one version');
  return { specific: { versions } };
}

/** Parses one execution provider: a bare name (`cuda`) or a mapping with `name` and options. */
export function parseProvider(v: unknown, where: string): ProviderSpec {
  if (typeof v === 'string') return { name: str(v, where, PROVIDERS, 'cpu'), require: false, options: {} };
  const o = obj(v, where);
  const name = str(o.name, `${where}.name`, PROVIDERS, 'cpu');
  if (o.name === undefined) throw new ConfigError(`${where}: needs a 'name' (one of ${PROVIDERS.join(', ')})`);
  for (const k of Object.keys(o)) {
    if (UNREACHABLE_OPTIONS[name].includes(k)) {
      throw new ConfigError(`${where}.${k}: not supported: onnxruntime-node 1.29.0 passes ${PROVIDER_OPTIONS[name].length ? `only ${PROVIDER_OPTIONS[name].join(', ')}` : 'no options'} to the ${name} provider (docs/execution-providers.md)`);
    }
  }
  onlyKeys(o, ['name', 'require', ...PROVIDER_OPTIONS[name]], where);
  const options: Record<string, number> = {};
  if (o.device_id !== undefined) options.device_id = int(o.device_id, `${where}.device_id`, 0);
  if (o.intra_op_threads !== undefined) options.intra_op_threads = int(o.intra_op_threads, `${where}.intra_op_threads`, 0, 1);
  return { name, require: bool(o.require, `${where}.require`, false), options };
}

export function parseProviderList(v: unknown, where: string): ProviderSpec[] {
  if (v === undefined) return [];
  const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v;
  if (!Array.isArray(list)) throw new ConfigError(`${where}: must be a list of providers`);
  const specs = list.map((p, i) => parseProvider(p, `${where}[${i}]`));
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.name)) throw new ConfigError(`${where}: provider '${s.name}' is listed twice`);
    seen.add(s.name);
  }
  return specs;
}

function parseWarmup(v: unknown): Warmup[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ConfigError('model_warmup: must be a list');
  return v.map((w, i) => {
    const where = `model_warmup[${i}]`;
    const o = obj(w, where);
    onlyKeys(o, ['name', 'batch_size', 'count', 'inputs'], where);
    const inputs: Record<string, WarmupInput> = {};
    for (const [name, spec] of Object.entries(obj(o.inputs, `${where}.inputs`))) {
      const iw = `${where}.inputs.${name}`;
      const s = obj(spec, iw);
      onlyKeys(s, ['data_type', 'dims', 'zero_data', 'random_data'], iw);
      if (typeof s.data_type !== 'string') throw new ConfigError(`${iw}.data_type: required, e.g. TYPE_FP32`);
      const data_type = tritonType(s.data_type);
      if (!data_type) throw new ConfigError(`${iw}.data_type: unknown data_type '${s.data_type}' (e.g. TYPE_FP32, TYPE_INT64, TYPE_STRING)`);
      if (s.zero_data === undefined && s.random_data === undefined) {
        throw new ConfigError(`${iw}: give zero_data: true or random_data: true`);
      }
      inputs[name] = {
        data_type,
        dims: intList(s.dims, `${iw}.dims`),
        source: s.random_data ? 'random_data' : 'zero_data',
      };
    }
    return {
      name: typeof o.name === 'string' ? o.name : `warmup_${i}`,
      batch_size: int(o.batch_size, `${where}.batch_size`, 1, 1),
      count: int(o.count, `${where}.count`, 1, 1),
      inputs,
    };
  });
}

/** Triton's config type names and the OIP datatypes they stand for. */
const TRITON_TYPES: Record<string, Datatype> = {
  TYPE_BOOL: 'BOOL', TYPE_UINT8: 'UINT8', TYPE_UINT16: 'UINT16', TYPE_UINT32: 'UINT32', TYPE_UINT64: 'UINT64',
  TYPE_INT8: 'INT8', TYPE_INT16: 'INT16', TYPE_INT32: 'INT32', TYPE_INT64: 'INT64',
  TYPE_FP16: 'FP16', TYPE_FP32: 'FP32', TYPE_FP64: 'FP64', TYPE_BF16: 'BF16', TYPE_STRING: 'BYTES',
};

/** Triton config type names (TYPE_FP32) or OIP names (FP32) to OIP datatypes; undefined when unknown. */
export function tritonType(t: string): Datatype | undefined {
  return TRITON_TYPES[t] ?? (Object.values(TRITON_TYPES).includes(t as Datatype) ? (t as Datatype) : undefined);
}

const TOP_KEYS = [
  'name', 'platform', 'backend', 'max_batch_size', 'dynamic_batching', 'instance_group',
  'version_policy', 'model_warmup', 'execution_providers', ...EXTENSION_KEYS,
] as const;

/** Parses and validates a model's config.yaml text; `model` names the model in messages. */
export function parseModelConfig(text: string | undefined, model: string): ModelConfig {
  let raw: unknown = {};
  if (text !== undefined) {
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(`config.yaml of '${model}' is not valid YAML: ${(err as Error).message}`);
    }
  }
  if (!isObj(raw)) throw new ConfigError(`config.yaml of '${model}' must be a mapping`);
  return parseModelConfigObject(raw, model);
}

function parseModelConfigObject(o: Obj, model: string): ModelConfig {
  try {
    onlyKeys(o, TOP_KEYS, 'config');
    if (o.name !== undefined && o.name !== model) {
      throw new ConfigError(`config.name: '${String(o.name)}' does not match the model folder '${model}'`);
    }
    if (o.platform !== undefined && o.platform !== 'onnxruntime_onnx') {
      throw new ConfigError(`config.platform: only onnxruntime_onnx is served, got ${JSON.stringify(o.platform)}`);
    }
    if (o.backend !== undefined && o.backend !== 'onnxruntime') {
      throw new ConfigError(`config.backend: only onnxruntime is served, got ${JSON.stringify(o.backend)}`);
    }
    const instance_group = parseInstanceGroups(o.instance_group);
    const execution_providers = parseProviderList(o.execution_providers, 'execution_providers');
    const kinds = new Set(instance_group.map((g) => g.kind));
    if (kinds.has('KIND_CPU') && execution_providers.some((p) => p.name !== 'cpu')) {
      throw new ConfigError('instance_group kind KIND_CPU conflicts with a non-CPU entry in execution_providers');
    }
    if (kinds.has('KIND_GPU') && execution_providers.length > 0 && execution_providers.every((p) => p.name === 'cpu')) {
      throw new ConfigError('instance_group kind KIND_GPU conflicts with execution_providers that list no GPU provider (cuda or webgpu)');
    }
    if (kinds.has('KIND_GPU') && kinds.has('KIND_CPU')) {
      throw new ConfigError('instance_group: mixing KIND_GPU and KIND_CPU in one model is not supported; use one kind');
    }
    return {
      max_batch_size: o.max_batch_size === undefined ? undefined : int(o.max_batch_size, 'max_batch_size', 0),
      dynamic_batching: parseDynamicBatching(o.dynamic_batching),
      instance_group,
      version_policy: parseVersionPolicy(o.version_policy),
      model_warmup: parseWarmup(o.model_warmup),
      execution_providers,
      extensions: Object.fromEntries(EXTENSION_KEYS.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])),
    };
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`model '${model}': ${err.message}`);
    throw err;
  }
}
