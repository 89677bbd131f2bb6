import { ArtifactStore } from './artifacts/artifact-store.js';
import type { SqlDb } from './db/db.js';
import { PostgresDb } from './db/postgres.js';
import { SqliteDb } from './db/sqlite.js';
import { doesNotExist } from './errors.js';
import { RegistryServing } from './serving.js';
import { type NewVersion, RegistryStore } from './store/store.js';
import { checkNewVersion } from './store/version-ops.js';
import type { ModelVersion } from './types.js';
import { checkModelName } from './validate.js';

export interface RegistryOptions {
  /** `postgres://...` (or `postgresql://`), else a SQLite file path (`sqlite:` prefix optional). */
  url: string;
  /** The content-addressed artifact store's folder. */
  artifactRoot: string;
  /** How often the serving view checks for changes made by other processes (default 2000 ms). */
  pollMs?: number;
  log?: (msg: string) => void;
}

/** Opens the database a registry URL names. */
export function openRegistryDb(url: string, log: (msg: string) => void = () => {}): SqlDb {
  if (/^postgres(ql)?:\/\//i.test(url)) return new PostgresDb(url, log);
  return new SqliteDb(url.replace(/^sqlite:(\/\/)?/i, ''));
}

/** Where a registry URL points, with any password hidden (for logs). */
export function describeRegistryUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/** The model registry: store, artifact store and the serving view, opened and migrated together. */
export class Registry {
  private constructor(
    readonly store: RegistryStore,
    readonly artifacts: ArtifactStore,
    readonly serving: RegistryServing,
    readonly url: string,
  ) {}

  /** Opens the database, runs migrations and loads the serving view. */
  static async open(opts: RegistryOptions): Promise<Registry> {
    const log = opts.log ?? (() => {});
    let store: RegistryStore;
    try {
      store = new RegistryStore(openRegistryDb(opts.url, log));
    } catch (err) {
      throw new Error(`cannot open the model registry at ${describeRegistryUrl(opts.url)}: ${(err as Error).message} (set --registry-url, or --registry-url none to run without a registry)`);
    }
    try {
      const { from, to } = await store.migrate().catch((err: Error) => {
        throw new Error(`cannot open the model registry at ${describeRegistryUrl(opts.url)}: ${err.message} (set --registry-url, or --registry-url none to run without a registry)`);
      });
      if (from !== to) log(`registry schema migrated from version ${from} to ${to}`);
      const artifacts = new ArtifactStore(opts.artifactRoot);
      const serving = new RegistryServing(store, artifacts, { pollMs: opts.pollMs ?? 2000, log });
      store.onCommit(() => serving.refresh().catch((e: Error) => log(`registry serving refresh failed: ${e.message}`)));
      await serving.start();
      return new Registry(store, artifacts, serving, opts.url);
    } catch (err) {
      await store.close().catch(() => {});
      throw err;
    }
  }

  /**
   * Registers a new version: checks the request, fetches the source into the artifact store
   * (outside the transaction: copying a model can take a while), then writes the version in
   * one transaction. A source that cannot be fetched or read still becomes a version, as in
   * MLflow: READY but not servable, or FAILED_REGISTRATION with the reason.
   */
  async createVersion(who: string, v: NewVersion): Promise<ModelVersion> {
    checkModelName(v.name);
    checkNewVersion(v);
    if (!(await this.store.hasModel(v.name))) throw doesNotExist(`Registered Model with name=${v.name} not found`);
    const ingest = await this.artifacts.ingest(v.source, v.name);
    return this.store.createVersion(who, v, ingest);
  }

  /** get-download-uri: the stored artifact's folder, or the source as given when none was stored. */
  async downloadUri(name: string, version: string): Promise<string> {
    const v = await this.store.getVersion(name, version);
    return v.artifact ? this.artifacts.uriOf(v.artifact.digest) : v.source;
  }

  async close(): Promise<void> {
    await this.serving.stop();
    await this.store.close();
  }
}
