import { type Obj, isObj } from '../config/validate.js';
import { invalid } from '../protocol/errors.js';
import { type FeatureStore, MAX_ENTITY_ROWS, MAX_FEATURE_REFS, statusOf } from './feature-store.js';
import type { StoredRow } from './online-store.js';
import type { FeatureRef } from './types.js';
import type { ViewGroup } from './feature-store.js';
import { entityKeyOf, joinKeyValue, rfc3339 } from './values.js';

const EPOCH = '1970-01-01T00:00:00Z';
const REQUEST_KEYS = ['features', 'feature_service', 'entities', 'full_feature_names'];

/** The feature references a request names: `features` (a list) or `feature_service`, not both. */
function requestedRefs(fs: FeatureStore, body: Obj): FeatureRef[] {
  if (body.features !== undefined && body.feature_service !== undefined) {
    throw invalid("give either 'features' or 'feature_service', not both");
  }
  if (body.feature_service !== undefined) return fs.serviceRefs(body.feature_service, 'feature_service');
  if (body.features === undefined) throw invalid("missing 'features' (a list of \"feature_view:feature\") or 'feature_service'");
  if (!Array.isArray(body.features) || body.features.length === 0) throw invalid("'features': expected a non-empty list of \"feature_view:feature\" strings");
  if (body.features.length > MAX_FEATURE_REFS) throw invalid(`'features': at most ${MAX_FEATURE_REFS} references per request, got ${body.features.length}`);
  return body.features.map((f, i) => fs.parseRef(f, `features[${i}]`));
}

/** What a request's feature references resolve to; cached per service or reference list. */
interface RequestPlan {
  groups: ViewGroup[];
  names: string[];
  /** Join keys the views need, with their types. */
  needed: Map<string, 'String' | 'Int64'>;
}

/** Plans of recent requests, by their references (most requests name a service or a fixed list). */
const PLAN_CACHE_SIZE = 1000;
const plans = new WeakMap<FeatureStore, Map<string, RequestPlan>>();

function planOf(fs: FeatureStore, body: Obj, full: boolean): RequestPlan {
  const key = cacheKeyOf(body, full);
  let cache = plans.get(fs);
  if (!cache) plans.set(fs, (cache = new Map()));
  const hit = key === undefined ? undefined : cache.get(key);
  if (hit) return hit;
  const groups = fs.groupRefs(requestedRefs(fs, body));
  const names = groups.flatMap((g) => g.features.map((f) => (full ? `${g.view.name}__${f.name}` : f.name)));
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw invalid(`feature name '${n}' is requested twice${full ? '' : ' (two views share it: ask with full_feature_names: true)'}`);
    seen.add(n);
  }
  const needed = new Map<string, 'String' | 'Int64'>();
  for (const g of groups) for (const jk of g.view.joinKeys) needed.set(jk.name, jk.dtype as 'String' | 'Int64');
  const plan = { groups, names, needed };
  if (key !== undefined) {
    if (cache.size >= PLAN_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(key, plan);
  }
  return plan;
}

/** A key for the plan cache, or undefined when the request is not plainly cacheable. */
function cacheKeyOf(body: Obj, full: boolean): string | undefined {
  if (body.features !== undefined && body.feature_service !== undefined) return undefined;
  if (typeof body.feature_service === 'string') return `s${full ? 1 : 0}:${body.feature_service}`;
  const f = body.features;
  if (Array.isArray(f) && f.length > 0 && f.length <= MAX_FEATURE_REFS && f.every((x) => typeof x === 'string')) return `f${full ? 1 : 0}:${f.join('\u0000')}`;
  return undefined;
}

/**
 * POST /get-online-features: Feast's request (`features` or `feature_service`, columnar
 * `entities`, `full_feature_names`) answered, as JSON text, as Feast's feature server answers it: join keys
 * first, then one vector per feature with values in request order (duplicates kept).
 */
export async function onlineFeaturesText(fs: FeatureStore, body: unknown, nowMs = Date.now()): Promise<string> {
  if (!isObj(body)) throw invalid('request body: expected a JSON object with features or feature_service, and entities');
  for (const k of Object.keys(body)) if (!REQUEST_KEYS.includes(k)) throw invalid(`unknown field '${k}' (allowed: ${REQUEST_KEYS.join(', ')})`);
  const full = body.full_feature_names ?? false;
  if (typeof full !== 'boolean') throw invalid(`'full_feature_names': expected true or false, got ${JSON.stringify(full)}`);
  const plan = planOf(fs, body, full);
  const { groups, needed } = plan;

  // Entities: exactly the join keys of the requested views, columns of one length.
  if (!isObj(body.entities)) throw invalid("'entities': expected an object mapping each join key to a list of values");
  const entities = body.entities;
  for (const k of Object.keys(entities)) {
    if (!needed.has(k)) throw invalid(`'entities.${k}': not a join key of the requested feature views (expected ${[...needed.keys()].join(', ')})`);
  }
  let rows = -1;
  const columns = new Map<string, (string | number)[]>();
  for (const [jk, dtype] of needed) {
    const col = entities[jk];
    if (col === undefined) throw invalid(`'entities': missing join key '${jk}'`);
    if (!Array.isArray(col) || col.length === 0) throw invalid(`'entities.${jk}': expected a non-empty list of values`);
    if (col.length > MAX_ENTITY_ROWS) throw invalid(`'entities.${jk}': at most ${MAX_ENTITY_ROWS} entity rows per request, got ${col.length}`);
    if (rows >= 0 && col.length !== rows) throw invalid(`'entities': every join key needs the same number of values ('${jk}' has ${col.length}, expected ${rows})`);
    rows = col.length;
    const parsed = new Array<string | number>(col.length);
    for (let i = 0; i < col.length; i++) {
      const v = joinKeyValue(col[i], dtype);
      if (v === undefined) throw invalid(`'entities.${jk}[${i}]': expected ${dtype === 'String' ? 'a string' : 'an integer'}, got ${JSON.stringify(col[i])}`);
      parsed[i] = v;
    }
    columns.set(jk, parsed);
  }

  const keys = groups.map((g) => {
    const cols = g.view.joinKeys.map((jk) => columns.get(jk.name)!);
    return Array.from({ length: rows }, (_, i) => entityKeyOf(cols.map((c) => c[i])));
  });
  const found = await fs.lookup(groups.map((g) => g.view), keys, nowMs);

  // Join keys in the order the request gave them, as Feast's server does; then each view's features.
  const joinKeyOrder = Object.keys(entities);
  const parts = joinKeyOrder.map((jk) => `{"values":${JSON.stringify(columns.get(jk))},"statuses":${repeated('"PRESENT"', rows)},"event_timestamps":${repeated(EPOCH_JSON, rows)}}`);
  groups.forEach((g, gi) => parts.push(viewVectors(g, found[gi], nowMs, fs.cached.enabled)));
  return `{"metadata":{"feature_names":[${joinKeyOrder.map((k) => JSON.stringify(k)).join(',')},${namesJson(plan)}]},"results":[${parts.join(',')}]}`;
}

const EPOCH_JSON = `"${EPOCH}"`;
const repeated = (item: string, n: number): string => `[${n === 1 ? item : new Array<string>(n).fill(item).join(',')}]`;

/** The plan's feature names as JSON list items (without brackets), written once per plan. */
const namesText = new WeakMap<RequestPlan, string>();
function namesJson(plan: RequestPlan): string {
  let t = namesText.get(plan);
  if (t === undefined) namesText.set(plan, (t = plan.names.map((n) => JSON.stringify(n)).join(',')));
  return t;
}

/**
 * A cached row's vectors for one view, as text: a one-entity answer from the cache is then
 * written without formatting a value. Valid until the row would turn OUTSIDE_MAX_AGE; a
 * rewritten row is a new object (the cache holds the new one), so it never serves old values.
 */
const rowText = new WeakMap<StoredRow, Map<ViewGroup, { text: string; from: number; until: number }>>();
const MAX_TEXTS_PER_ROW = 4;

/** One vector per feature of a view: values, statuses and event times across the entity rows. */
function viewVectors(g: ViewGroup, found: readonly (StoredRow | undefined)[], nowMs: number, rowsCached: boolean): string {
  const one = rowsCached && found.length === 1 ? found[0] : undefined;
  if (one) {
    const hit = rowText.get(one)?.get(g);
    if (hit && nowMs >= hit.from && nowMs <= hit.until) return hit.text;
  }
  // One formatted event time per row, shared by the row's features.
  const times = JSON.stringify(found.map((row) => (row ? rfc3339(row.eventTs) : EPOCH)));
  const vectors = g.features.map((f) => {
    const values = new Array<string>(found.length);
    const statuses = new Array<string>(found.length);
    for (let i = 0; i < found.length; i++) {
      const row = found[i];
      const status = statusOf(row, f.name, g.view, nowMs);
      statuses[i] = `"${status}"`;
      values[i] = status === 'PRESENT' || status === 'OUTSIDE_MAX_AGE' ? JSON.stringify(row!.values[f.name]) : 'null';
    }
    return `{"values":[${values.join(',')}],"statuses":[${statuses.join(',')}],"event_timestamps":${times}}`;
  }).join(',');
  if (one) {
    // Statuses change only when the row goes stale (ttl 0: never): fresh up to eventTs + ttl, stale after.
    const ttlMs = g.view.ttlSeconds * 1000;
    const staleAfter = ttlMs > 0 ? one.eventTs + ttlMs : Infinity;
    const [from, until] = nowMs <= staleAfter ? [-Infinity, staleAfter] : [staleAfter + 1, Infinity];
    let byGroup = rowText.get(one);
    if (!byGroup) rowText.set(one, (byGroup = new Map()));
    else if (byGroup.size >= MAX_TEXTS_PER_ROW) byGroup.clear(); // requests naming ever other features keep no more
    byGroup.set(g, { text: vectors, from, until });
  }
  return vectors;
}
