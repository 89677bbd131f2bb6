import { readFileSync } from 'node:fs';
import type { CatalogModel, ModelCatalog } from '../core/model-catalog.js';
import type { RegistryServing } from './serving.js';
import type { RegistryStore } from './store/store.js';

/** The registry as a model catalog: the models with a serving alias, and the versions their aliases point at. */
export class RegistryCatalog implements ModelCatalog {
  readonly name = 'registry';

  constructor(
    private readonly serving: RegistryServing,
    private readonly store: RegistryStore,
    private readonly log: (msg: string) => void,
  ) {}

  models(): CatalogModel[] {
    return this.serving.servedModels().map((m) => {
      const aliases: Record<string, string> = {};
      const out: CatalogModel = { name: m.name, aliases, servingAlias: m.servingAlias, versions: [], refused: [] };
      for (const v of m.versions) {
        for (const a of v.aliases) aliases[a] = v.version;
        if (!v.servable || !v.modelPath || !v.artifactDir) {
          out.refused.push({ version: v.version, reason: v.reason ?? 'not servable' });
          continue;
        }
        let configText: string | undefined;
        try {
          configText = v.configPath ? readFileSync(v.configPath, 'utf8') : undefined;
        } catch (err) {
          out.refused.push({ version: v.version, reason: `its config.yaml cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` });
          continue;
        }
        out.versions.push({ version: v.version, modelPath: v.modelPath, dir: v.artifactDir, configText });
      }
      return out;
    });
  }

  onChange(listener: () => void): () => void {
    return this.serving.onChange(() => listener());
  }

  /** A version behind an alias failed to load: say so in the model's audit log. */
  versionFailed(model: string, version: string, reason: string): void {
    this.store.recordServingEvent(model, version, 'serving_load_failed', { reason }).catch((e: Error) => this.log(`registry: could not record a load failure of ${model}/${version}: ${e.message}`));
  }
}
