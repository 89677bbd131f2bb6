import { parseModelConfig } from '../config/model-config.js';
import { type ModelEntry, type ModelLifecycle, newEntry } from './lifecycle.js';
import type { CatalogModel, ModelCatalog } from './model-catalog.js';
import type { ModelVersion } from './model.js';

/**
 * Keeps the models that catalogs (the registry) serve in line with them, through the
 * lifecycle: loads the versions they want, moves an alias only once its version is READY
 * (a hot swap: the old version serves until then and unloads after its in-flight requests
 * when nothing points at it), and keeps a version that fails to load out of traffic. A catalog
 * model takes over a repository folder of the same name once its serving alias can serve.
 */
export class CatalogSync {
  private readonly catalogs: ModelCatalog[] = [];
  /** Catalog models still loading before they take over a repository model's name. */
  private readonly staged = new Map<string, ModelEntry>();
  /** Which file each loaded catalog version came from (content-addressed: a new file is a new path). */
  private readonly paths = new WeakMap<ModelVersion, string>();
  /** Files that failed to load, per model and version: not tried again until the catalog names other files. */
  private readonly failedFiles = new Map<string, string>();

  constructor(private readonly lifecycle: ModelLifecycle) {}

  /** Follows a catalog: syncs now and on each of its changes. */
  async add(catalog: ModelCatalog): Promise<void> {
    this.catalogs.push(catalog);
    catalog.onChange(() => void this.sync().catch((e: Error) => this.lifecycle.log.error(`${catalog.name}: serving sync failed: ${e.message}`)));
    await this.sync();
  }

  /** Brings every catalog model in line (one change at a time, with repository scans). */
  sync(): Promise<void> {
    return this.lifecycle.serial(async () => {
      const wanted = new Map<string, { catalog: ModelCatalog; model: CatalogModel }>();
      for (const catalog of this.catalogs) {
        for (const model of catalog.models()) if (!wanted.has(model.name)) wanted.set(model.name, { catalog, model });
      }
      for (const { catalog, model } of wanted.values()) await this.syncModel(catalog, model);
      for (const e of this.lifecycle.entries()) {
        if (e.owner && !wanted.has(e.name)) await this.release(e);
      }
      for (const [name, e] of [...this.staged]) {
        if (!wanted.has(name)) {
          this.staged.delete(name);
          await Promise.all([...e.versions.values()].map((mv) => this.lifecycle.retire(mv)));
        }
      }
    });
  }

  private async syncModel(catalog: ModelCatalog, m: CatalogModel): Promise<void> {
    const log = this.lifecycle.log;
    const current = this.lifecycle.model(m.name);
    const entry = current?.owner === catalog.name ? current : this.staged.get(m.name) ?? newEntry(m.name, catalog.name);
    await Promise.all(m.versions.map(async (cv) => {
      const have = entry.versions.get(cv.version);
      if (have && this.paths.get(have) === cv.modelPath) return;
      if (this.failedFiles.get(`${m.name}/${cv.version}`) === cv.modelPath) return; // failed before on these files
      let mv: ModelVersion;
      try {
        mv = this.lifecycle.createVersion(m.name, cv.version, parseModelConfig(cv.configText, m.name), { dir: cv.dir, modelPath: cv.modelPath });
      } catch (err) {
        return this.failed(catalog, entry, cv.version, cv.modelPath, (err as Error).message);
      }
      await this.lifecycle.loadVersion(mv);
      if (mv.state !== 'READY') {
        await this.lifecycle.retire(mv);
        return this.failed(catalog, entry, cv.version, cv.modelPath, mv.reason);
      }
      this.paths.set(mv, cv.modelPath);
      this.failedFiles.delete(`${m.name}/${cv.version}`);
      entry.notices.delete(cv.version);
      entry.versions.set(cv.version, mv);
      if (have) await this.lifecycle.retire(have);
    }));
    for (const r of m.refused) {
      if (entry.notices.get(r.version) !== r.reason) log.warn(`model '${m.name}' version ${r.version} (${catalog.name}) cannot be served: ${r.reason}`);
      entry.notices.set(r.version, r.reason);
    }
    // Aliases take traffic only once their version is READY; otherwise they keep their previous target.
    for (const [alias, v] of Object.entries(m.aliases)) {
      if (entry.versions.get(v)?.state === 'READY') {
        if (entry.aliases.get(alias) !== v) log.info(`model '${m.name}': alias '${alias}' now serves version ${v}`);
        entry.aliases.set(alias, v);
      } else if (entry.aliases.has(alias) && entry.aliases.get(alias) !== v) {
        log.warn(`model '${m.name}': alias '${alias}' moved to version ${v}, which cannot serve (${entry.notices.get(v) ?? 'not loaded'}); version ${entry.aliases.get(alias)} keeps serving`);
      }
    }
    for (const alias of [...entry.aliases.keys()]) if (!(alias in m.aliases)) entry.aliases.delete(alias);
    entry.servingAlias = m.servingAlias;
    if (current !== entry) this.takeOver(entry, current, catalog);
    // Unload what nothing points at any more.
    const needed = new Set([...entry.aliases.values(), ...m.versions.map((v) => v.version)]);
    for (const [v, mv] of [...entry.versions]) {
      if (needed.has(v)) continue;
      entry.versions.delete(v);
      log.info(`model '${m.name}' version ${v} unloading: no alias points at it`);
      await this.lifecycle.retire(mv);
    }
  }

  /** Puts a catalog model in place once its serving alias can serve; until then a repository model of that name keeps serving. */
  private takeOver(entry: ModelEntry, current: ModelEntry | undefined, catalog: ModelCatalog): void {
    const log = this.lifecycle.log;
    if (current && !entry.aliases.has(entry.servingAlias ?? '')) {
      this.staged.set(entry.name, entry);
      return;
    }
    this.staged.delete(entry.name);
    const old = this.lifecycle.replaceModel(entry);
    if (old) {
      log.info(`model '${entry.name}': the ${catalog.name} serves it now (alias '${entry.servingAlias}'); the repository folder of that name no longer does`);
      void Promise.all([...old.versions.values()].map((mv) => this.lifecycle.retire(mv)));
    } else {
      log.info(`model '${entry.name}': served from the ${catalog.name} (alias '${entry.servingAlias}')`);
    }
  }

  /** A catalog stopped serving a model: unload it, and let a repository folder of that name serve again. */
  private async release(entry: ModelEntry): Promise<void> {
    this.lifecycle.log.info(`model '${entry.name}': the ${entry.owner} no longer serves it`);
    await this.lifecycle.unloadModel(entry.name);
    await this.lifecycle.syncRepositoryModel(entry.name);
  }

  private failed(catalog: ModelCatalog, entry: ModelEntry, version: string, path: string, reason: string): void {
    this.failedFiles.set(`${entry.name}/${version}`, path);
    entry.notices.set(version, `failed to load: ${reason}`);
    this.lifecycle.log.warn(`model '${entry.name}' version ${version} (${catalog.name}) failed to load and takes no traffic: ${reason}`);
    catalog.versionFailed?.(entry.name, version, reason);
  }
}
