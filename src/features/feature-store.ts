import type { Registry, RegistryContentType } from 'prom-client';
import { invalid } from '../protocol/errors.js';
import { CachedOnlineStore } from './cached-store.js';
import { loadFeatureStoreDef } from './definitions.js';
import { FeatureMetrics } from './metrics.js';
import type { OnlineStore, StoredRow } from './online-store.js';
import { SqliteOnlineStore } from './sqlite-store.js';
import type { FeatureField, FeatureRef, FeatureStoreDef, FeatureViewDef } from './types.js';

/** Most entity rows one lookup may ask for (get-online-features and a fused inference alike). */
export const MAX_ENTITY_ROWS = 1000;
/** Most feature references one get-online-features request may name. */
export const MAX_FEATURE_REFS = 1000;

/** Feast's FieldStatus names. */
export type FieldStatus = 'PRESENT' | 'NULL_VALUE' | 'NOT_FOUND' | 'OUTSIDE_MAX_AGE';

/** The features asked of one view, in the order they were asked. */
export interface ViewGroup {
  view: FeatureViewDef;
  features: FeatureField[];
}

/**
 * Opens the online store a definition names (SQLite file or Redis URL). The Redis client is
 * loaded only when asked for: importing it changes the main thread's timing measurably (its
 * diagnostics channels), which servers without Redis should not pay.
 */
export async function openOnlineStore(def: FeatureStoreDef): Promise<OnlineStore> {
  const s = def.onlineStore;
  if (s.type === 'sqlite') return new SqliteOnlineStore(s.path, def.project);
  const { RedisOnlineStore } = await import('./redis-store.js');
  return new RedisOnlineStore({ url: s.connectionString, project: def.project, keyPrefix: s.keyPrefix });
}

/**
 * Feature definitions with their online store, the cache in front of it and the metrics:
 * what the feature-server routes, the CLI and the fused inference step share.
 */
export class FeatureStore {
  readonly metrics: FeatureMetrics;
  readonly cached: CachedOnlineStore;

  constructor(
    readonly def: FeatureStoreDef,
    readonly store: OnlineStore,
    registry: Registry<RegistryContentType>,
  ) {
    this.metrics = new FeatureMetrics(registry);
    this.cached = new CachedOnlineStore(store, def.onlineStore.cache, this.metrics, (v) => def.featureViews.get(v)?.ttlSeconds ?? 0);
  }

  /** Reads feature_store.yaml and opens its online store. */
  static async open(file: string, registry: Registry<RegistryContentType>): Promise<FeatureStore> {
    const def = await loadFeatureStoreDef(file);
    return new FeatureStore(def, await openOnlineStore(def), registry);
  }

  /** Publishes each view's materialization watermark to the metrics (at start, and after runs). */
  async refreshWatermarks(): Promise<void> {
    for (const v of this.def.featureViews.keys()) {
      const until = await this.store.materializedUntil(v).catch(() => undefined);
      if (until !== undefined) this.metrics.lastMaterialized.set({ view: v }, until / 1000);
    }
  }

  /** Groups checked `view:feature` references by view, views in order of first mention (as Feast). */
  groupRefs(refs: readonly FeatureRef[]): ViewGroup[] {
    const groups = new Map<string, ViewGroup>();
    for (const r of refs) {
      const view = this.def.featureViews.get(r.view)!;
      let g = groups.get(r.view);
      if (!g) groups.set(r.view, (g = { view, features: [] }));
      g.features.push(view.features.find((f) => f.name === r.feature)!);
    }
    return [...groups.values()];
  }

  /** Parses one `view:feature` string against the definitions, naming `where` when it fails. */
  parseRef(text: unknown, where: string): FeatureRef {
    if (typeof text !== 'string') throw invalid(`${where}: expected a "feature_view:feature" string, got ${JSON.stringify(text)}`);
    const parts = text.split(':');
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw invalid(`${where}: expected "feature_view:feature", got ${JSON.stringify(text)}`);
    const view = this.def.featureViews.get(parts[0]);
    if (!view) throw invalid(`${where}: unknown feature view '${parts[0]}' (known: ${[...this.def.featureViews.keys()].join(', ')})`);
    if (!view.features.some((f) => f.name === parts[1])) throw invalid(`${where}: feature view '${view.name}' has no feature '${parts[1]}'`);
    return { view: view.name, feature: parts[1] };
  }

  /** The references of a feature service, or a 400 naming `where`. */
  serviceRefs(name: unknown, where: string): FeatureRef[] {
    if (typeof name !== 'string') throw invalid(`${where}: expected a feature service name, got ${JSON.stringify(name)}`);
    const svc = this.def.featureServices.get(name);
    if (!svc) throw invalid(`${where}: unknown feature service '${name}' (known: ${[...this.def.featureServices.keys()].join(', ') || 'none'})`);
    return svc.refs;
  }

  /**
   * Looks up one row per entity key of each view (duplicates allowed, read once) in one
   * batched read behind the cache; counts NOT_FOUND and OUTSIDE_MAX_AGE rows per view.
   */
  async lookup(views: readonly FeatureViewDef[], keys: readonly (readonly string[])[], nowMs: number): Promise<(StoredRow | undefined)[][]> {
    const uniq = keys.map((ks) => [...new Set(ks)]);
    const rows = await this.cached.read(views.map((v, i) => ({ ...namesOf(v), entityKeys: uniq[i] })));
    return views.map((v, i) => {
      const byKey = new Map<string, StoredRow | undefined>();
      uniq[i].forEach((k, j) => byKey.set(k, rows[i][j]));
      let missing = 0;
      let stale = 0;
      const out = keys[i].map((k) => {
        const r = byKey.get(k);
        if (!r) missing++;
        else if (isStale(r, v, nowMs)) stale++;
        return r;
      });
      if (missing) this.metrics.notFound.inc({ view: v.name }, missing);
      if (stale) this.metrics.outsideMaxAge.inc({ view: v.name }, stale);
      return out;
    });
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/** A view's name, feature names and join key names, as a lookup takes them (made once per view). */
const viewNames = new WeakMap<FeatureViewDef, { view: string; features: string[]; joinKeys: string[] }>();
function namesOf(v: FeatureViewDef): { view: string; features: string[]; joinKeys: string[] } {
  let n = viewNames.get(v);
  if (!n) viewNames.set(v, (n = { view: v.name, features: v.features.map((f) => f.name), joinKeys: v.joinKeys.map((j) => j.name) }));
  return n;
}

/** Feast's Go server: older than the view's ttl (now - event time > ttl), never when the ttl is 0. */
export function isStale(row: StoredRow, view: FeatureViewDef, nowMs: number): boolean {
  return view.ttlSeconds > 0 && (nowMs - row.eventTs) / 1000 > view.ttlSeconds;
}

/** The status of one feature of a looked-up row. */
export function statusOf(row: StoredRow | undefined, feature: string, view: FeatureViewDef, nowMs: number): FieldStatus {
  if (!row || !(feature in row.values)) return 'NOT_FOUND';
  if (row.values[feature] === null) return 'NULL_VALUE';
  return isStale(row, view, nowMs) ? 'OUTSIDE_MAX_AGE' : 'PRESENT';
}

