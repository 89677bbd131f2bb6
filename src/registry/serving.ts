import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AliasSource } from '../core/pipeline.js';
import type { ArtifactStore } from './artifacts/artifact-store.js';
import type { RegistryStore, ServingRows } from './store/store.js';
import { DEFAULT_SERVING_ALIAS, TAG } from './types.js';

/** A version the gateway must load for a registry-served model. */
export interface ServedVersion {
  version: string;
  /** Aliases that point at it. */
  aliases: string[];
  /** It is behind the model's serving alias (what a request naming no version gets). */
  serving: boolean;
  servable: boolean;
  /** Why it cannot be served, when it cannot. */
  reason?: string;
  /** The artifact folder (holds model.onnx, and config.yaml when `configPath` is set). */
  artifactDir?: string;
  modelPath?: string;
  configPath?: string;
}

/** A registered model with a serving alias: the registry decides what serves under its name. */
export interface ServedModel {
  name: string;
  servingAlias: string;
  /** The version behind the serving alias. */
  servingVersion: string;
  /** Every version an alias points at, lowest number first. */
  versions: ServedVersion[];
}

interface Snapshot {
  generation: number;
  aliases: Map<string, Map<string, string>>;
  served: ServedModel[];
}

// The name rule of the file repository (core/repository.ts): what OIP routes serve by name.
const SERVABLE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Builds the serving view from the store's rows (pure, apart from checking files exist). */
export function buildSnapshot(rows: ServingRows, artifacts: ArtifactStore): Snapshot {
  const aliases = new Map<string, Map<string, string>>();
  const served: ServedModel[] = [];
  for (const model of rows.models) {
    const tags = new Map(rows.tags.filter((t) => t.model_id === model.id).map((t) => [t.key, t.value]));
    const servingAlias = tags.get(TAG.servingAlias) ?? DEFAULT_SERVING_ALIAS;
    const own = rows.aliases.filter((a) => a.model_id === model.id);
    const servingVersion = own.find((a) => a.alias === servingAlias)?.version;
    if (servingVersion === undefined) continue;
    aliases.set(model.name, new Map(own.map((a) => [a.alias, String(a.version)])));
    const versions = rows.versions
      .filter((v) => v.model_id === model.id)
      .sort((a, b) => a.version - b.version)
      .map((v): ServedVersion => {
        const out: ServedVersion = {
          version: String(v.version),
          aliases: own.filter((a) => a.version === v.version).map((a) => a.alias).sort(),
          serving: v.version === servingVersion,
          servable: false,
        };
        if (!SERVABLE_NAME.test(model.name) || model.name.includes('..')) {
          out.reason = `registered model name '${model.name}' cannot be served over OIP (use letters, digits, '_', '-' and '.')`;
        } else if (v.status !== 'READY') {
          out.reason = `version ${v.version} is ${v.status}`;
        } else if (v.servable !== 1 || !v.artifact_digest) {
          out.reason = v.not_servable_reason ?? 'the version has no stored artifact';
        } else {
          const dir = artifacts.dirOf(v.artifact_digest);
          if (!existsSync(join(dir, 'model.onnx'))) {
            out.reason = `artifact ${dir} is missing model.onnx`;
          } else {
            Object.assign(out, { servable: true, artifactDir: dir, modelPath: join(dir, 'model.onnx') });
            if (v.has_config === 1) out.configPath = join(dir, 'config.yaml');
          }
        }
        return out;
      });
    served.push({ name: model.name, servingAlias, servingVersion: String(servingVersion), versions });
  }
  return { generation: rows.generation, aliases, served };
}

/**
 * The registry as the serving path sees it: sync reads from an in-memory snapshot, refreshed
 * after every local mutation and, across processes, on Postgres NOTIFY, with a poll of the
 * change generation as the fallback (and the only way on a shared SQLite file).
 */
export class RegistryServing implements AliasSource {
  private snapshot: Snapshot = { generation: -1, aliases: new Map(), served: [] };
  private readonly listeners = new Set<(models: ServedModel[]) => void>();
  private refreshing: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopListening: (() => Promise<void>) | undefined;
  private pollFailing = false;

  constructor(
    private readonly store: RegistryStore,
    private readonly artifacts: ArtifactStore,
    private readonly opts: { pollMs: number; log: (msg: string) => void },
  ) {}

  /** AliasSource: the version number an alias names, for registry-served models. */
  versionFor(model: string, alias: string): string | undefined {
    return this.snapshot.aliases.get(model)?.get(alias);
  }

  /** AliasSource: the version behind the model's serving alias (champion unless infergate.serving_alias says otherwise). */
  defaultVersion(model: string): string | undefined {
    return this.snapshot.served.find((m) => m.name === model)?.servingVersion;
  }

  /** Every registered model with a serving alias and the versions it needs loaded. */
  servedModels(): ServedModel[] {
    return this.snapshot.served;
  }

  /** Calls `listener` with the new list whenever what must be served changes; returns an unsubscribe. */
  onChange(listener: (models: ServedModel[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reloads the snapshot; resolves once a reload that began after this call has finished. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        const next = buildSnapshot(await this.store.servingRows(), this.artifacts);
        const changed = JSON.stringify(next.served) !== JSON.stringify(this.snapshot.served);
        this.snapshot = next;
        if (changed) for (const l of this.listeners) this.safely(l, next.served);
      } while (this.again);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private safely(l: (models: ServedModel[]) => void, models: ServedModel[]): void {
    try {
      l(models);
    } catch (err) {
      this.opts.log(`registry serving listener failed: ${(err as Error).message}`);
    }
  }

  /** Loads the first snapshot and starts following changes. */
  async start(): Promise<void> {
    await this.refresh();
    const onNotice = () => void this.refresh().catch((e: Error) => this.opts.log(`registry refresh failed: ${e.message}`));
    this.stopListening = await this.store.db.listen(onNotice).catch((e: Error) => {
      this.opts.log(`registry LISTEN unavailable (${e.message}); following changes by polling every ${this.opts.pollMs} ms`);
      return undefined;
    });
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    try {
      if ((await this.store.generation()) !== this.snapshot.generation) await this.refresh();
      if (this.pollFailing) this.opts.log('registry database reachable again');
      this.pollFailing = false;
    } catch (err) {
      if (!this.pollFailing) this.opts.log(`registry poll failed (serving keeps its last snapshot): ${(err as Error).message}`);
      this.pollFailing = true;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.stopListening?.();
    await this.refreshing?.catch(() => {});
  }
}
