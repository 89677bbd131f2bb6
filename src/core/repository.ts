import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../config/validate.js';
import { type ModelConfig, type ProviderSpec, parseModelConfig } from '../config/model-config.js';
import { InferError, invalid, notFound, unavailable } from '../protocol/errors.js';
import type { Metrics } from '../telemetry/metrics.js';
import { ModelVersion } from './model.js';
import type { WorkerPool } from './pool.js';
import { unreadableRepository } from './repository-errors.js';
import { clip } from '../protocol/clip.js';

export type ModelControlMode = 'none' | 'poll' | 'explicit';

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const VERSION_RE = /^[1-9][0-9]{0,17}$/;

/** Rejects names that could leave the repository folder or that no model could have. */
export function checkModelName(name: string): void {
  if (!NAME_RE.test(name) || name.includes('..')) {
    throw invalid(`invalid model name '${clip(name)}': use letters, digits, '_', '-' and '.', not starting with '.' or '-'`);
  }
}

export function checkVersion(version: string): void {
  if (!VERSION_RE.test(version)) throw invalid(`invalid model version '${clip(version)}': must be a positive integer`);
}

/** Where versions run: the shared CPU pool, or a pool of its own for a GPU model. */
export interface PoolProvider {
  poolFor(model: string, providers: ProviderSpec[], instances: number): WorkerPool;
  releasePool(model: string, pool: WorkerPool): void;
}

export interface RepositoryOptions {
  root: string;
  mode: ModelControlMode;
  /** Models to load at startup in explicit mode ('*' = all). */
  startupModels: string[];
  pollIntervalMs: number;
  defaultProviders: ProviderSpec[];
  intraOpThreads: number;
  pools: PoolProvider;
  metrics: Metrics;
  /** Repository events; failures come at 'warn'. */
  log: (msg: string, level?: 'info' | 'warn') => void;
}

/** What the repository index reports per model version (Triton's RepositoryIndex). */
export interface IndexEntry {
  name: string;
  version: string;
  state: string;
  reason: string;
}

interface ModelEntry {
  name: string;
  configText: string | undefined;
  /** Set when config.yaml itself is invalid: every version is unavailable for this reason. */
  configError?: string;
  versions: Map<string, ModelVersion>;
}

/**
 * The model repository on disk (`<root>/<model>/<version>/model.onnx`, optional
 * `<root>/<model>/config.yaml`) and the versions loaded from it.
 */
export class ModelRepository {
  readonly root: string;
  private readonly models = new Map<string, ModelEntry>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  /** Versions being unloaded: kept visible until their in-flight requests finish. */
  private readonly unloading = new Set<ModelVersion>();

  constructor(private readonly opts: RepositoryOptions) {
    this.root = resolve(opts.root);
  }

  /** Loads what the mode says to load at startup and, in poll mode, starts polling. */
  async start(): Promise<void> {
    if (!existsSync(this.root)) throw new ConfigError(`model repository '${this.root}' does not exist (--model-repository)`);
    await this.modelDirs().catch((err: InferError) => {
      throw new ConfigError(`model repository '${this.opts.root}': ${err.message} (--model-repository)`);
    });
    if (this.opts.mode === 'explicit') {
      const names = this.opts.startupModels.includes('*') ? await this.modelDirs() : this.opts.startupModels;
      for (const n of names) {
        await this.load(n).catch((e: Error) => this.opts.log(`model '${n}' not loaded: ${e.message}`, 'warn'));
      }
    } else {
      await this.scan();
    }
    if (this.opts.mode === 'poll') {
      this.timer = setInterval(() => void this.scan().catch((e) => this.opts.log(`repository poll failed: ${(e as Error).message}`, 'warn')), this.opts.pollIntervalMs);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.scanning;
  }

  /** Every version in memory (loaded, failed or unloading). */
  versions(): ModelVersion[] {
    const all: ModelVersion[] = [];
    for (const m of this.models.values()) all.push(...m.versions.values());
    return all.concat([...this.unloading]);
  }

  /** Names of the model folders in the repository. */
  private async modelDirs(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.root, { withFileTypes: true });
    } catch (err) {
      throw unreadableRepository(err);
    }
    return entries.filter((e) => e.isDirectory() && NAME_RE.test(e.name) && !e.name.includes('..')).map((e) => e.name).sort();
  }

  /** Version folders of a model that hold a model.onnx. */
  private async versionDirs(name: string): Promise<string[]> {
    const dir = join(this.root, name);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return [];
    }
    const found: string[] = [];
    for (const e of entries) {
      if (e.isDirectory() && VERSION_RE.test(e.name) && existsSync(join(dir, e.name, 'model.onnx'))) found.push(e.name);
    }
    return found.sort((a, b) => Number(a) - Number(b));
  }

  /** Brings the loaded set in line with the folders (startup in none mode; each poll). */
  async scan(): Promise<void> {
    if (this.scanning) return this.scanning;
    this.scanning = (async () => {
      const names = await this.modelDirs();
      for (const n of names) await this.sync(n);
      for (const n of [...this.models.keys()]) if (!names.includes(n)) await this.unloadModel(n);
    })().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  /** Loads the versions of one model that its version policy selects, unloading the rest. */
  private async sync(name: string): Promise<void> {
    const dir = join(this.root, name);
    const configPath = join(dir, 'config.yaml');
    const configText = existsSync(configPath) ? await readFile(configPath, 'utf8') : undefined;
    let entry = this.models.get(name);
    if (entry && entry.configText !== configText) {
      // The config changed: reload every version with the new one.
      this.opts.log(`model '${name}': config.yaml changed, reloading`);
      await this.unloadModel(name);
      entry = undefined;
    }
    if (!entry) {
      entry = { name, configText, versions: new Map() };
      this.models.set(name, entry);
    }
    let config: ModelConfig;
    try {
      config = parseModelConfig(configText, name);
      entry.configError = undefined;
    } catch (err) {
      entry.configError = (err as Error).message;
      this.opts.log(`model '${name}' cannot load: ${entry.configError}`, 'warn');
      return;
    }
    const onDisk = await this.versionDirs(name);
    const wanted = selectVersions(onDisk, config);
    for (const v of [...entry.versions.keys()]) {
      if (!wanted.includes(v)) await this.unloadVersion(entry, v);
    }
    const loads: Promise<void>[] = [];
    for (const v of wanted) {
      const existing = entry.versions.get(v);
      if (existing && existing.state !== 'UNAVAILABLE') continue;
      // A version that failed before is tried again only when polling sees its file change.
      if (existing && this.opts.mode === 'poll' && !(await changedSince(join(dir, v, 'model.onnx'), existing))) continue;
      loads.push(this.loadVersion(entry, v, config));
    }
    await Promise.all(loads);
  }

  private async loadVersion(entry: ModelEntry, version: string, config: ModelConfig): Promise<void> {
    const providers = config.execution_providers.length ? config.execution_providers : providersForKind(config, this.opts.defaultProviders);
    const instances = config.instance_group.reduce((n, g) => n + g.count, 0);
    const pool = this.opts.pools.poolFor(entry.name, providers, instances);
    const cpu = providers.find((p) => p.name === 'cpu');
    const intra = Number(cpu?.options.intra_op_threads ?? this.opts.intraOpThreads);
    const mv = new ModelVersion(entry.name, version, join(this.root, entry.name), config, {
      pool, metrics: this.opts.metrics, providers, intraOpThreads: intra,
    });
    entry.versions.set(version, mv);
    await mv.load();
    if (mv.state === 'READY') {
      const fb = mv.fallbackReason ? ` (fell back: ${mv.fallbackReason})` : '';
      this.opts.log(`model '${entry.name}' version ${version} READY on ${mv.provider}${fb}, max_batch_size ${mv.maxBatchSize}`);
    } else {
      this.opts.log(`model '${entry.name}' version ${version} UNAVAILABLE: ${mv.reason}`, 'warn');
    }
  }

  private async unloadVersion(entry: ModelEntry, version: string): Promise<void> {
    const mv = entry.versions.get(version);
    if (!mv) return;
    entry.versions.delete(version);
    this.unloading.add(mv);
    this.opts.log(`model '${entry.name}' version ${version} unloading`);
    await mv.unload();
    this.unloading.delete(mv);
    this.opts.pools.releasePool(entry.name, mv.pool);
  }

  private async unloadModel(name: string): Promise<void> {
    const entry = this.models.get(name);
    if (!entry) return;
    this.models.delete(name);
    await Promise.all([...entry.versions.keys()].map((v) => this.unloadVersion(entry, v)));
  }

  /** Loads (or reloads) a model: the repository extension's load, explicit mode only. */
  async load(name: string): Promise<void> {
    checkModelName(name);
    if (this.opts.mode === 'poll') {
      throw new InferError('unsupported', 'explicit model load / unload is not allowed when polling is enabled (--model-control-mode poll)');
    }
    if (this.opts.mode === 'none') {
      throw new InferError('unsupported', 'explicit model load / unload is not allowed in --model-control-mode none; use explicit');
    }
    if (!existsSync(join(this.root, name))) throw notFound(`failed to load '${name}': no such model folder in the repository`);
    await this.unloadModel(name);
    await this.sync(name);
    const entry = this.models.get(name);
    if (entry?.configError) throw invalid(`failed to load '${name}': ${entry.configError}`);
    if (!entry || entry.versions.size === 0) throw invalid(`failed to load '${name}': no version folder with a model.onnx`);
    const failed = [...entry.versions.values()].filter((v) => v.state !== 'READY');
    if (failed.length) throw invalid(`failed to load '${name}': ${failed.map((v) => `version ${v.version}: ${v.reason}`).join('; ')}`);
  }

  /** Unloads a model once its in-flight requests finish: the repository extension's unload. */
  async unload(name: string): Promise<void> {
    checkModelName(name);
    if (this.opts.mode !== 'explicit') {
      throw new InferError('unsupported', `explicit model load / unload needs --model-control-mode explicit (now ${this.opts.mode})`);
    }
    if (!this.models.has(name)) throw notFound(`failed to unload '${name}': model is not loaded`);
    await this.unloadModel(name);
  }

  /** Every model folder's versions with their state, loaded or not (Triton's index). */
  async index(readyOnly = false): Promise<IndexEntry[]> {
    const out: IndexEntry[] = [];
    for (const name of await this.modelDirs()) {
      const entry = this.models.get(name);
      for (const v of await this.versionDirs(name)) {
        const mv = entry?.versions.get(v);
        const state = entry?.configError ? 'UNAVAILABLE' : mv?.state ?? 'UNAVAILABLE';
        const reason = entry?.configError ?? (mv ? mv.reason : 'unloaded');
        if (!readyOnly || state === 'READY') out.push({ name, version: v, state, reason });
      }
    }
    return out;
  }

  /** The version a request names, or the newest ready one; typed errors when there is none. */
  resolve(name: string, version?: string): ModelVersion {
    checkModelName(name);
    if (version !== undefined && version !== '') checkVersion(version);
    const entry = this.models.get(name);
    if (!entry) throw notFound(`Request for unknown model: '${name}' is not found`);
    if (entry.configError) throw unavailable(`model '${name}' is unavailable: ${entry.configError}`);
    if (version) {
      const mv = entry.versions.get(version);
      if (!mv) throw notFound(`Request for unknown model: '${name}' version ${version} is not found`);
      return mv;
    }
    let best: ModelVersion | undefined;
    for (const mv of entry.versions.values()) {
      if (mv.state === 'READY' && (!best || Number(mv.version) > Number(best.version))) best = mv;
    }
    if (!best) {
      const states = [...entry.versions.values()].map((v) => `version ${v.version} ${v.state}${v.reason ? `: ${v.reason}` : ''}`);
      throw unavailable(`model '${name}' has no ready version (${states.join('; ') || 'no versions'})`);
    }
    return best;
  }

  /** All versions of a model, for metadata (version list). */
  versionsOf(name: string): ModelVersion[] {
    checkModelName(name);
    const entry = this.models.get(name);
    if (!entry) throw notFound(`Request for unknown model: '${name}' is not found`);
    return [...entry.versions.values()].sort((a, b) => Number(a.version) - Number(b.version));
  }

  /** Whether a model of this name is known (loaded or failed). */
  has(name: string): boolean {
    return this.models.has(name);
  }

  /** Model names known to the repository (loaded or failed). */
  modelNames(): string[] {
    return [...this.models.keys()].sort();
  }

  /** A model entry whose config is broken (reported in index and startup). */
  configErrors(): { name: string; reason: string }[] {
    return [...this.models.values()].filter((m) => m.configError).map((m) => ({ name: m.name, reason: m.configError! }));
  }
}

/** Applies Triton's version policy to the versions found on disk. */
export function selectVersions(onDisk: string[], config: ModelConfig): string[] {
  const p = config.version_policy;
  const sorted = [...onDisk].sort((a, b) => Number(a) - Number(b));
  if ('all' in p) return sorted;
  if ('specific' in p) return sorted.filter((v) => p.specific.versions.includes(Number(v)));
  return sorted.slice(-p.latest.num_versions);
}

/** Providers implied by instance_group kind when execution_providers is not given. */
function providersForKind(config: ModelConfig, defaults: ProviderSpec[]): ProviderSpec[] {
  const kinds = new Set(config.instance_group.map((g) => g.kind));
  if (kinds.has('KIND_GPU')) {
    const gpu = config.instance_group.find((g) => g.kind === 'KIND_GPU')!;
    const options: Record<string, number> = gpu.gpus.length ? { device_id: gpu.gpus[0] } : {};
    return [{ name: 'cuda', require: false, options }, { name: 'cpu', require: false, options: {} }];
  }
  if (kinds.has('KIND_CPU')) return [{ name: 'cpu', require: false, options: {} }];
  return defaults;
}

async function changedSince(path: string, mv: ModelVersion): Promise<boolean> {
  try {
    const s = await stat(path);
    return s.mtimeMs > mv.loadedAt;
  } catch {
    return false;
  }
}
