import type { Logger } from 'pino';
import { type ModelConfig, type ProviderSpec, parseModelConfig } from '../config/model-config.js';
import type { ModelControlMode } from '../config/server-config.js';
import { InferError, asInferError, invalid, notFound } from '../protocol/errors.js';
import * as triton from '../protocol/triton-errors.js';
import { clip } from '../protocol/clip.js';
import { ModelVersion } from './model.js';
import type { ModelObserver } from './model-observer.js';
import type { VersionHook } from './pipeline.js';
import type { PoolProvider } from './pool-layout.js';
import { type FileIdentity, type RepositoryScanner, isModelName } from './repository-scanner.js';

/** What happens to a model version, for whoever subscribes (gRPC health Watch, metrics, the monitor). */
export type LifecycleEvent =
  | { type: 'loading'; model: string; version: string }
  | { type: 'ready'; model: string; version: string; seconds: number }
  | { type: 'failed'; model: string; version: string; reason: string }
  | { type: 'unloading'; model: string; version: string }
  | { type: 'unloaded'; model: string; version: string };

export type LifecycleListener = (e: LifecycleEvent) => void;

export interface LifecycleOptions {
  scanner: RepositoryScanner;
  mode: ModelControlMode;
  /** Models to load at startup in explicit mode ('*' = all). */
  startupModels: string[];
  pollIntervalMs: number;
  defaultProviders: ProviderSpec[];
  intraOpThreads: number;
  pools: PoolProvider;
  /** Shared observers of every version's traffic (metrics). */
  observers: readonly ModelObserver[];
  /** Capabilities that prepare state for a version as it loads; a failing hook fails the load. */
  hooks: readonly VersionHook[];
  log: Logger;
}

/** What the repository index reports per model version (Triton's RepositoryIndex). */
export interface IndexEntry {
  name: string;
  version: string;
  state: string;
  reason: string;
}

/** A model as the router sees it: its versions, or why it has none. */
export interface ModelEntry {
  readonly name: string;
  configText: string | undefined;
  /** Set when config.yaml is invalid and nothing is loaded: every version is unavailable for this reason. */
  configError?: string;
  readonly versions: Map<string, ModelVersion>;
  /** The identity of the file each loaded (or failed) version came from. */
  readonly files: Map<string, FileIdentity | undefined>;
  /** Why the latest reload of a version failed while its loaded copy kept serving. */
  readonly reloadFailures: Map<string, string>;
  /** The last problem reading the model's files, logged once until it changes or clears. */
  problem?: string;
  /** The catalog that serves this model (the registry); undefined for the repository folder. */
  owner?: string;
  /** Aliases as they take traffic: each points at a READY version (catalog models). */
  readonly aliases: Map<string, string>;
  /** The alias a request naming no version follows (catalog models). */
  servingAlias?: string;
  /** Versions a catalog wants that do not serve, and why (failed to load, not servable). */
  readonly notices: Map<string, string>;
}

/** A new, empty model entry. */
export function newEntry(name: string, owner?: string): ModelEntry {
  return { name, owner, configText: undefined, versions: new Map(), files: new Map(), reloadFailures: new Map(), aliases: new Map(), notices: new Map() };
}

/**
 * Loads and unloads model versions and keeps their states, as the control mode says
 * (Triton's none / poll / explicit). Reloads load the new version side by side and switch
 * when it is ready; a failed reload leaves the loaded version serving.
 */
export class ModelLifecycle {
  private readonly models = new Map<string, ModelEntry>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  /** Versions being unloaded: kept visible until their in-flight requests finish. */
  private readonly unloading = new Set<ModelVersion>();
  private readonly listeners = new Set<LifecycleListener>();
  private work: Promise<void> = Promise.resolve();

  constructor(private readonly opts: LifecycleOptions) {}

  /** Subscribes to lifecycle events; returns the unsubscribe function. */
  on(listener: LifecycleListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: LifecycleEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.opts.log.error({ err }, `lifecycle listener failed on ${e.type}`);
      }
    }
  }

  /** Loads what the mode says to load at startup and, in poll mode, starts polling. */
  async start(): Promise<void> {
    const { scanner, mode } = this.opts;
    await scanner.check();
    if (mode === 'explicit') {
      const names = this.opts.startupModels.includes('*') ? await scanner.modelNames() : this.opts.startupModels;
      for (const n of names) {
        await this.load(n).catch((e: Error) => this.opts.log.warn(`model '${n}' not loaded: ${e.message}`));
      }
    } else {
      await this.scan();
    }
    if (mode === 'poll') {
      this.timer = setInterval(() => void this.scan().catch((e) => this.opts.log.warn(`repository poll failed: ${(e as Error).message}`)), this.opts.pollIntervalMs);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.work;
  }

  /** Every version in memory (loaded, failed or unloading). */
  versions(): ModelVersion[] {
    const all: ModelVersion[] = [];
    for (const m of this.models.values()) all.push(...m.versions.values());
    return all.concat([...this.unloading]);
  }

  /** A model known to the lifecycle (loaded or failed), or undefined. */
  model(name: string): ModelEntry | undefined {
    return this.models.get(name);
  }

  /** Puts a model entry in place (a catalog taking a name over); returns the one it replaced. */
  replaceModel(entry: ModelEntry): ModelEntry | undefined {
    const old = this.models.get(entry.name);
    this.models.set(entry.name, entry);
    return old;
  }

  /** Models in memory. */
  entries(): ModelEntry[] {
    return [...this.models.values()];
  }

  /** Loads a repository model folder again (after a catalog stopped serving its name). */
  async syncRepositoryModel(name: string): Promise<void> {
    if (this.opts.mode !== 'explicit' && (await this.opts.scanner.hasModel(name))) await this.sync(name, false);
  }

  get log(): Logger {
    return this.opts.log;
  }

  /** Runs changes to the loaded set one at a time (repository scans, catalog changes, explicit loads). */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.work.then(fn, fn);
    this.work = run.then(() => undefined, () => undefined);
    return run;
  }

  /** Brings the loaded set in line with the folders (startup in none mode; each poll). */
  async scan(): Promise<void> {
    if (this.scanning) return this.scanning;
    this.scanning = this.serial(async () => {
      const names = await this.opts.scanner.modelNames();
      for (const n of names) await this.sync(n, false);
      for (const [n, e] of [...this.models]) if (!e.owner && !names.includes(n)) await this.unloadModel(n);
    }).finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  /**
   * Loads the versions of one model that its version policy selects and unloads the rest.
   * A changed config.yaml or model file reloads side by side; `force` reloads every version.
   */
  private async sync(name: string, force: boolean): Promise<void> {
    const { scanner, log } = this.opts;
    let configText: string | undefined;
    try {
      configText = await scanner.configText(name);
    } catch (err) {
      return this.keepServing(name, (err as Error).message);
    }
    let entry = this.models.get(name);
    const configChanged = entry !== undefined && entry.configText !== configText;
    if (entry?.owner) return; // a catalog (the registry) serves this name
    if (!entry) {
      entry = newEntry(name);
      entry.configText = configText;
      this.models.set(name, entry);
    }
    let config: ModelConfig;
    try {
      config = parseModelConfig(configText, name);
    } catch (err) {
      const reason = (err as Error).message;
      if (entry.versions.size > 0 && [...entry.versions.values()].some((v) => v.state === 'READY')) {
        // A bad edit of a serving model: keep what serves, report the failure.
        return this.keepServing(name, `config.yaml not applied: ${reason}`);
      }
      entry.configText = configText;
      entry.configError = reason;
      log.warn(`model '${name}' cannot load: ${reason}`);
      return;
    }
    const onDisk = await scanner.versionNumbers(name);
    if (onDisk === undefined) return this.keepServing(name, `the folder of '${name}' cannot be read; check its permissions`);
    entry.configError = undefined;
    if (entry.problem) {
      this.opts.log.info(`model '${name}': its files can be read again`);
      entry.problem = undefined;
      entry.reloadFailures.clear();
    }
    if (configChanged) log.info(`model '${name}': config.yaml changed, reloading side by side`);
    const wanted = selectVersions(onDisk, config);
    for (const v of [...entry.versions.keys()]) {
      if (!wanted.includes(v)) await this.unloadVersion(entry, v);
    }
    const loads: Promise<void>[] = [];
    for (const v of wanted) loads.push(this.syncVersion(entry, v, config, force || configChanged));
    await Promise.all(loads);
    entry.configText = configText;
  }

  /** Loads a version that is new, changed on disk, or (with `reload`) in need of the new config. */
  private async syncVersion(entry: ModelEntry, version: string, config: ModelConfig, reload: boolean): Promise<void> {
    const existing = entry.versions.get(version);
    const known = entry.files.get(version);
    const file = await this.opts.scanner.modelIdentity(entry.name, version, known);
    const fileChanged = file?.sha256 !== known?.sha256;
    if (existing && !reload && !fileChanged) return;
    // A version that failed before is tried again only when its file or config changes (poll mode).
    if (existing?.state === 'UNAVAILABLE' && !reload && !fileChanged && this.opts.mode === 'poll') return;
    const mv = this.createVersion(entry.name, version, config);
    if (!existing || existing.state !== 'READY') {
      entry.versions.set(version, mv);
      entry.files.set(version, file);
      await this.loadVersion(mv);
      if (existing) await this.retire(existing);
      return;
    }
    // Side by side: the loaded copy serves until the new one is ready.
    await this.loadVersion(mv);
    if (mv.state !== 'READY') {
      this.recordReloadFailure(entry, version, mv.reason);
      entry.files.set(version, file);
      this.discard(mv);
      return;
    }
    entry.reloadFailures.delete(version);
    entry.versions.set(version, mv);
    entry.files.set(version, file);
    this.opts.log.info(`model '${entry.name}' version ${version} reloaded; the previous copy unloads after its in-flight requests`);
    await this.retire(existing);
  }

  private recordReloadFailure(entry: ModelEntry, version: string, reason: string): void {
    entry.reloadFailures.set(version, reason);
    this.opts.log.warn(`model '${entry.name}' version ${version}: reload failed, the loaded copy keeps serving: ${reason}`);
  }

  /** Something went wrong reading a served model's files: keep serving and say so. */
  private keepServing(name: string, reason: string): void {
    const entry = this.models.get(name);
    if (!entry) {
      this.opts.log.warn(`model '${name}' cannot load: ${reason}`);
      return;
    }
    if (entry.problem === reason) return;
    entry.problem = reason;
    this.opts.log.warn(`model '${name}': ${reason}; the loaded versions keep serving`);
    for (const v of entry.versions.keys()) {
      entry.reloadFailures.set(v, reason);
      this.emit({ type: 'failed', model: name, version: v, reason });
    }
  }

  /** A new version object on the pool its config asks for (loaded by loadVersion). */
  createVersion(name: string, version: string, config: ModelConfig, files?: { dir: string; modelPath: string }): ModelVersion {
    const providers = config.execution_providers.length ? config.execution_providers : providersForKind(config, this.opts.defaultProviders);
    const instances = config.instance_group.reduce((n, g) => n + g.count, 0);
    const pool = this.opts.pools.poolFor(name, version, providers, instances);
    const cpu = providers.find((p) => p.name === 'cpu');
    const intra = Number(cpu?.options.intra_op_threads ?? this.opts.intraOpThreads);
    const deps = { pool, observers: this.opts.observers, providers, intraOpThreads: intra };
    if (files) return new ModelVersion(name, version, files.dir, config, deps, files.modelPath);
    return new ModelVersion(name, version, this.opts.scanner.modelDir(name), config, deps);
  }

  /** Loads a version, with the capabilities' hooks, emitting its lifecycle events. */
  async loadVersion(mv: ModelVersion): Promise<void> {
    const { log, hooks } = this.opts;
    const ev = { model: mv.name, version: mv.version };
    this.emit({ type: 'loading', ...ev });
    const started = process.hrtime.bigint();
    await mv.load(hooks.length ? (v) => runHooks(hooks, v) : undefined);
    if (mv.state === 'READY') {
      this.emit({ type: 'ready', ...ev, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
      const fb = mv.fallbackReason ? ` (fell back: ${mv.fallbackReason})` : '';
      log.info(`model '${mv.name}' version ${mv.version} READY on ${mv.provider}${fb}, max_batch_size ${mv.maxBatchSize}`);
    } else {
      this.emit({ type: 'failed', ...ev, reason: mv.reason });
      log.warn(`model '${mv.name}' version ${mv.version} UNAVAILABLE: ${mv.reason}`);
    }
  }

  /** Unloads a version that no longer takes requests, once its in-flight ones finish. */
  async retire(mv: ModelVersion): Promise<void> {
    const ev = { model: mv.name, version: mv.version };
    this.unloading.add(mv);
    this.emit({ type: 'unloading', ...ev });
    await mv.unload();
    this.discard(mv);
    this.unloading.delete(mv);
    this.emit({ type: 'unloaded', ...ev });
  }

  /** Frees what a version held beside its sessions: capability state and a pool of its own. */
  private discard(mv: ModelVersion): void {
    for (const h of this.opts.hooks) h.unload(mv);
    this.opts.pools.releasePool(mv.pool);
  }

  private async unloadVersion(entry: ModelEntry, version: string): Promise<void> {
    const mv = entry.versions.get(version);
    if (!mv) return;
    entry.versions.delete(version);
    entry.files.delete(version);
    entry.reloadFailures.delete(version);
    this.opts.log.info(`model '${entry.name}' version ${version} unloading`);
    await this.retire(mv);
  }

  /** Unloads every version of a model and forgets it. */
  async unloadModel(name: string): Promise<void> {
    const entry = this.models.get(name);
    if (!entry) return;
    this.models.delete(name);
    await Promise.all([...entry.versions.keys()].map((v) => this.unloadVersion(entry, v)));
  }

  /** Loads (or reloads, side by side) a model: the repository extension's load, explicit mode only. */
  async load(name: string): Promise<void> {
    checkModelName(name);
    if (this.opts.mode === 'poll') {
      throw new InferError('unsupported', `${triton.controlDisabled()} (--model-control-mode poll)`);
    }
    if (this.opts.mode === 'none') {
      throw new InferError('unsupported', `${triton.controlDisabled()} (--model-control-mode none; use explicit)`);
    }
    if (!(await this.opts.scanner.hasModel(name))) throw notFound(`${triton.loadNoSuchModel(name)}: no such model folder`);
    const before = this.models.get(name);
    if (before?.owner) throw invalid(`failed to load '${name}': the ${before.owner} serves this model; move its serving alias instead`);
    if (before) before.reloadFailures.clear();
    await this.serial(() => this.sync(name, true));
    const entry = this.models.get(name);
    if (entry?.configError) throw invalid(triton.loadFailed(name, entry.configError));
    if (!entry || entry.versions.size === 0) throw invalid(`${triton.loadNoVersion(name)} (no version folder with a model.onnx)`);
    const failed = [...entry.versions.values()].filter((v) => v.state !== 'READY').map((v) => triton.versionLoadFailed(v.version, v.state, v.reason));
    for (const [v, reason] of entry.reloadFailures) failed.push(triton.versionLoadFailed(v, 'READY', `reload failed: ${reason}`));
    if (failed.length) throw invalid(triton.loadFailed(name, failed.join(' ')));
  }

  /** Unloads a model once its in-flight requests finish: the repository extension's unload. */
  async unload(name: string): Promise<void> {
    checkModelName(name);
    if (this.opts.mode !== 'explicit') {
      throw new InferError('unsupported', `${triton.controlDisabled()} (--model-control-mode ${this.opts.mode}; use explicit)`);
    }
    const entry = this.models.get(name);
    if (!entry) throw notFound(`failed to unload '${name}': model is not loaded`);
    if (entry.owner) throw invalid(`failed to unload '${name}': the ${entry.owner} serves this model; delete its serving alias instead`);
    await this.serial(() => this.unloadModel(name));
  }

  /** Every model folder's versions with their state, loaded or not (Triton's index). */
  async index(readyOnly = false): Promise<IndexEntry[]> {
    const out: IndexEntry[] = [];
    const { scanner } = this.opts;
    for (const name of await scanner.modelNames()) {
      const entry = this.models.get(name);
      const onDisk = (await scanner.versionNumbers(name)) ?? [...(entry?.versions.keys() ?? [])];
      for (const v of onDisk) {
        const mv = entry?.versions.get(v);
        const state = entry?.configError ? 'UNAVAILABLE' : mv?.state ?? 'UNAVAILABLE';
        const failure = entry?.reloadFailures.get(v);
        const reason = entry?.configError ?? (failure ? `reload failed, the loaded copy serves: ${failure}` : mv ? mv.reason : 'unloaded');
        if (!readyOnly || state === 'READY') out.push({ name, version: v, state, reason });
      }
    }
    return out;
  }

  /** Models whose config is broken (reported in index and startup). */
  configErrors(): { name: string; reason: string }[] {
    return [...this.models.values()].filter((m) => m.configError).map((m) => ({ name: m.name, reason: m.configError! }));
  }
}

/** Rejects names that could leave the repository folder or that no model could have. */
export function checkModelName(name: string): void {
  if (!isModelName(name)) {
    throw invalid(`invalid model name '${clip(name)}': use letters, digits, '_', '-' and '.', not starting with '.' or '-'`);
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

async function runHooks(hooks: readonly VersionHook[], mv: ModelVersion): Promise<void> {
  for (const h of hooks) {
    try {
      await h.load(mv);
    } catch (err) {
      throw new InferError('internal', `${h.name}: ${asInferError(err).message}`);
    }
  }
}
