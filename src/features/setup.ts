import type { Logger } from 'pino';
import type { Registry, RegistryContentType } from 'prom-client';
import { findFeatureStoreFile } from './definitions.js';
import { FeatureEnrichStep } from './enrich.js';
import { FeatureStore } from './feature-store.js';

/** The features capability of one server: its store (when defined) and its enrich step. */
export interface FeatureSetup {
  store: FeatureStore | undefined;
  step: FeatureEnrichStep;
}

/**
 * Opens the feature store a server uses: `--feature-store FILE`, else feature_store.yaml at
 * the model repository root, else none (models with a `features:` block then fail to load).
 */
export async function openFeatures(opts: { featureStore?: string; modelRepository: string }, registry: Registry<RegistryContentType>, log: Logger): Promise<FeatureSetup> {
  const file = findFeatureStoreFile(opts.featureStore, opts.modelRepository);
  if (!file) return { store: undefined, step: new FeatureEnrichStep(undefined) };
  const store = await FeatureStore.open(file, registry);
  const d = store.def;
  log.info(`features: project '${d.project}' from ${file}: ${d.featureViews.size} feature views, ${d.featureServices.size} feature services, online store ${store.store.describe}`);
  if (store.store.connected && !(await store.store.connected(2000))) {
    log.warn(`features: online store ${store.store.describe} does not answer yet; feature requests get 503 until it does`);
  }
  await store.refreshWatermarks();
  return { store, step: new FeatureEnrichStep(store) };
}
