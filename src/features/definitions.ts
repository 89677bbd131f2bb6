import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type Obj, isObj } from '../config/validate.js';
import { parseDuration } from './duration.js';
import { inferSchema } from './sources.js';
import {
  type CacheConfig, type EntityDef, FEAST_DTYPES, type FeastDtype, type FeatureField, type FeatureRef,
  type FeatureServiceDef, type FeatureStoreDef, type FeatureViewDef, type OnlineStoreConfig, type PushSourceDef,
} from './types.js';

/** The definitions file a model repository may hold at its root. */
export const FEATURE_STORE_FILE = 'feature_store.yaml';

/** Where the definitions are: `--feature-store FILE`, else feature_store.yaml at the repository root, else none. */
export function findFeatureStoreFile(explicit: string | undefined, repository: string): string | undefined {
  if (explicit) {
    if (!existsSync(explicit)) throw new ConfigError(`--feature-store: '${explicit}' does not exist`);
    return resolve(explicit);
  }
  const atRoot = join(resolve(repository), FEATURE_STORE_FILE);
  return existsSync(atRoot) ? atRoot : undefined;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

/** Validation with messages of the form `<file>: <key>: <what was expected>`. */
class Reader {
  constructor(readonly file: string) {}

  fail(key: string, expected: string, got?: unknown): never {
    const tail = got === undefined ? '' : `, got ${JSON.stringify(got)}`;
    throw new ConfigError(`${this.file}: ${key}: ${expected}${tail}`);
  }

  obj(v: unknown, key: string, allowed: readonly string[]): Obj {
    if (!isObj(v)) this.fail(key, 'expected a mapping', v);
    for (const k of Object.keys(v)) {
      if (!allowed.includes(k)) this.fail(`${key ? `${key}.` : ''}${k}`, `unknown key (allowed in ${key || 'the top level'}: ${allowed.join(', ')})`);
    }
    return v;
  }

  list(v: unknown, key: string, optional = false): unknown[] {
    if (v === undefined && optional) return [];
    if (!Array.isArray(v)) this.fail(key, 'expected a list', v);
    return v;
  }

  name(v: unknown, key: string): string {
    if (typeof v !== 'string' || !NAME_RE.test(v)) this.fail(key, 'expected a name (letters, digits, _ . -, starting with a letter or _)', v);
    return v;
  }

  names(v: unknown, key: string): string[] {
    const out = this.list(v, key).map((x, i) => this.name(x, `${key}[${i}]`));
    if (out.length === 0) this.fail(key, 'expected at least one name');
    return out;
  }

  str(v: unknown, key: string): string {
    if (typeof v !== 'string' || v === '') this.fail(key, 'expected a non-empty string', v);
    return v;
  }

  dtype(v: unknown, key: string): FeastDtype {
    if (!(FEAST_DTYPES as readonly unknown[]).includes(v)) this.fail(key, `expected one of ${FEAST_DTYPES.join(', ')}`, v);
    return v as FeastDtype;
  }
}

function parseCache(r: Reader, v: unknown, key: string): CacheConfig {
  if (v === false) return { maxEntries: 0, ttlSeconds: 0 };
  const o = v === undefined ? {} : r.obj(v, key, ['max_entries', 'ttl']);
  const maxEntries = o.max_entries ?? 100_000;
  if (!Number.isSafeInteger(maxEntries) || (maxEntries as number) < 0) r.fail(`${key}.max_entries`, 'expected an integer >= 0 (0 turns the cache off)', maxEntries);
  const ttl = o.ttl === undefined ? 60 : parseDuration(o.ttl);
  if (ttl === undefined) r.fail(`${key}.ttl`, 'expected seconds or a duration like 60s, 5m', o.ttl);
  return { maxEntries: maxEntries as number, ttlSeconds: ttl };
}

function parseOnlineStore(r: Reader, v: unknown, baseDir: string): OnlineStoreConfig {
  const key = 'online_store';
  if (v === undefined) return { type: 'sqlite', path: join(baseDir, '.infergate', 'online.db'), cache: parseCache(r, undefined, `${key}.cache`) };
  const o = r.obj(v, key, ['type', 'path', 'connection_string', 'key_prefix', 'cache']);
  const type = o.type ?? 'sqlite';
  const cache = parseCache(r, o.cache, `${key}.cache`);
  if (type === 'sqlite') {
    if (o.connection_string !== undefined) r.fail(`${key}.connection_string`, 'only for type redis; sqlite takes path');
    const path = o.path === undefined ? '.infergate/online.db' : r.str(o.path, `${key}.path`);
    return { type, path: isAbsolute(path) ? path : join(baseDir, path), cache };
  }
  if (type === 'redis') {
    if (o.path !== undefined) r.fail(`${key}.path`, 'only for type sqlite; redis takes connection_string');
    const cs = o.connection_string === undefined ? 'redis://127.0.0.1:6379' : r.str(o.connection_string, `${key}.connection_string`);
    // Feast writes "host:port[,options]"; a URL is accepted as it is.
    const url = /^rediss?:\/\//.test(cs) ? cs : `redis://${cs.split(',')[0]}`;
    try {
      new URL(url);
    } catch {
      r.fail(`${key}.connection_string`, 'expected redis://host:port[/db] or host:port', cs);
    }
    if (o.key_prefix !== undefined && typeof o.key_prefix !== 'string') r.fail(`${key}.key_prefix`, 'expected a string', o.key_prefix);
    const keyPrefix = (o.key_prefix as string | undefined) ?? '';
    return { type, connectionString: url, keyPrefix, cache };
  }
  return r.fail(`${key}.type`, 'expected sqlite or redis', type);
}

/** Parses feature_store.yaml (Feast's concepts: entities, feature views, push sources, feature services). */
export async function loadFeatureStoreDef(file: string): Promise<FeatureStoreDef> {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: cannot read the feature definitions: ${(err as Error).message}`);
  }
  return parseFeatureStoreDef(raw, file);
}

/** Validates parsed YAML; reads each source's header where a schema is left out. */
export async function parseFeatureStoreDef(raw: unknown, file: string): Promise<FeatureStoreDef> {
  const r = new Reader(file);
  const baseDir = dirname(resolve(file));
  const top = r.obj(raw ?? {}, '', ['project', 'provider', 'registry', 'online_store', 'offline_store', 'entity_key_serialization_version', 'entities', 'feature_views', 'push_sources', 'feature_services']);
  const project = r.name(top.project, 'project');
  const onlineStore = parseOnlineStore(r, top.online_store, baseDir);

  const entities = new Map<string, EntityDef>();
  r.list(top.entities, 'entities').forEach((e, i) => {
    const key = `entities[${i}]`;
    const o = r.obj(e, key, ['name', 'join_keys', 'value_type', 'description', 'tags']);
    const name = r.name(o.name, `${key}.name`);
    if (entities.has(name)) r.fail(`${key}.name`, `entity '${name}' is defined twice`);
    const joinKeys = o.join_keys === undefined ? [name] : r.names(o.join_keys, `${key}.join_keys`);
    entities.set(name, { name, joinKeys, valueType: o.value_type === undefined ? undefined : r.dtype(o.value_type, `${key}.value_type`) });
  });
  if (entities.size === 0) r.fail('entities', 'expected at least one entity');

  const featureViews = new Map<string, FeatureViewDef>();
  const views = r.list(top.feature_views, 'feature_views');
  for (let i = 0; i < views.length; i++) {
    const v = await parseView(r, views[i], `feature_views[${i}]`, entities, baseDir);
    if (featureViews.has(v.name)) r.fail(`feature_views[${i}].name`, `feature view '${v.name}' is defined twice`);
    featureViews.set(v.name, v);
  }
  if (featureViews.size === 0) r.fail('feature_views', 'expected at least one feature view');

  const pushSources = new Map<string, PushSourceDef>();
  r.list(top.push_sources, 'push_sources', true).forEach((p, i) => {
    const key = `push_sources[${i}]`;
    const o = r.obj(p, key, ['name', 'feature_views', 'description', 'tags']);
    const name = r.name(o.name, `${key}.name`);
    if (pushSources.has(name)) r.fail(`${key}.name`, `push source '${name}' is defined twice`);
    const fvs = r.names(o.feature_views, `${key}.feature_views`);
    fvs.forEach((f, k) => {
      if (!featureViews.has(f)) r.fail(`${key}.feature_views[${k}]`, `expected a feature view defined in feature_views (${[...featureViews.keys()].join(', ')})`, f);
    });
    pushSources.set(name, { name, featureViews: fvs });
  });

  const featureServices = new Map<string, FeatureServiceDef>();
  r.list(top.feature_services, 'feature_services', true).forEach((s, i) => {
    const key = `feature_services[${i}]`;
    const o = r.obj(s, key, ['name', 'features', 'description', 'tags']);
    const name = r.name(o.name, `${key}.name`);
    if (featureServices.has(name)) r.fail(`${key}.name`, `feature service '${name}' is defined twice`);
    const refs: FeatureRef[] = [];
    r.list(o.features, `${key}.features`).forEach((f, k) => {
      const fk = `${key}.features[${k}]`;
      const text = r.str(f, fk);
      const [viewName, feature, extra] = text.split(':');
      const view = extra === undefined ? featureViews.get(viewName) : undefined;
      if (!view) return r.fail(fk, `expected a feature view name or "view:feature" with a view of feature_views (${[...featureViews.keys()].join(', ')})`, text);
      if (feature === undefined) {
        for (const ff of view.features) refs.push({ view: view.name, feature: ff.name });
      } else {
        if (!view.features.some((ff) => ff.name === feature)) r.fail(fk, `feature view '${viewName}' has no feature '${feature}'`);
        refs.push({ view: view.name, feature });
      }
    });
    if (refs.length === 0) r.fail(`${key}.features`, 'expected at least one feature');
    featureServices.set(name, { name, refs });
  });

  return { file, project, onlineStore, entities, featureViews, pushSources, featureServices };
}

async function parseView(r: Reader, v: unknown, key: string, entities: Map<string, EntityDef>, baseDir: string): Promise<FeatureViewDef> {
  const o = r.obj(v, key, ['name', 'entities', 'ttl', 'source', 'schema', 'online', 'description', 'tags']);
  const name = r.name(o.name, `${key}.name`);
  const entityNames = r.names(o.entities, `${key}.entities`);
  const ents = entityNames.map((e, k) => entities.get(e) ?? r.fail(`${key}.entities[${k}]`, `expected an entity defined in entities (${[...entities.keys()].join(', ')})`, e));
  const ttlSeconds = o.ttl === undefined ? 0 : parseDuration(o.ttl);
  if (ttlSeconds === undefined) r.fail(`${key}.ttl`, 'expected seconds or a duration like 90d, 12h, 30m, 45s (0 = never stale)', o.ttl);

  const so = r.obj(o.source, `${key}.source`, ['path', 'timestamp_field', 'file_format', 'name', 'created_timestamp_column']);
  const rel = r.str(so.path, `${key}.source.path`);
  const path = isAbsolute(rel) ? rel : join(baseDir, rel);
  const ext = extname(path).toLowerCase();
  const fmt = so.file_format ?? (ext === '.parquet' || ext === '.pq' ? 'parquet' : ext === '.csv' ? 'csv' : undefined);
  if (fmt !== 'csv' && fmt !== 'parquet') r.fail(`${key}.source.file_format`, 'expected csv or parquet (or a path ending in .csv or .parquet)', so.file_format ?? rel);
  const timestampField = so.timestamp_field === undefined ? 'event_timestamp' : r.str(so.timestamp_field, `${key}.source.timestamp_field`);
  const source = { path, format: fmt, timestampField } as const;

  // What the source holds: needed to check join keys and the timestamp, and to infer a schema.
  let columns: FeatureField[];
  try {
    columns = await inferSchema(source);
  } catch (err) {
    return r.fail(`${key}.source.path`, (err as Error).message);
  }
  const colType = new Map(columns.map((c) => [c.name, c.dtype]));
  const joinKeys: FeatureField[] = [];
  for (const e of ents) {
    for (const jk of e.joinKeys) {
      if (!colType.has(jk)) r.fail(`${key}.source.path`, `source ${path} has no column for join key '${jk}' of entity '${e.name}'`);
      const dtype = e.valueType ?? (colType.get(jk) === 'Int32' ? 'Int64' : colType.get(jk)!);
      if (dtype !== 'String' && dtype !== 'Int64') r.fail(`${key}.entities`, `join key '${jk}' must be String or Int64, the source has ${dtype}`);
      joinKeys.push({ name: jk, dtype });
    }
  }
  if (!colType.has(timestampField)) r.fail(`${key}.source.timestamp_field`, `source ${path} has no column '${timestampField}'`);

  const reserved = new Set([timestampField, ...joinKeys.map((j) => j.name)]);
  let features: FeatureField[];
  if (o.schema === undefined) {
    features = columns.filter((c) => !reserved.has(c.name));
  } else {
    features = r.list(o.schema, `${key}.schema`).map((f, k) => {
      const fk = `${key}.schema[${k}]`;
      const fo = r.obj(f, fk, ['name', 'dtype', 'description', 'tags']);
      const fname = r.name(fo.name, `${fk}.name`);
      if (!colType.has(fname)) r.fail(`${fk}.name`, `source ${path} has no column '${fname}'`);
      if (reserved.has(fname)) r.fail(`${fk}.name`, `'${fname}' is a join key or the timestamp field, not a feature`);
      return { name: fname, dtype: fo.dtype === undefined ? colType.get(fname)! : r.dtype(fo.dtype, `${fk}.dtype`) };
    });
    const seen = new Set<string>();
    features.forEach((f, k) => {
      if (seen.has(f.name)) r.fail(`${key}.schema[${k}].name`, `feature '${f.name}' is listed twice`);
      seen.add(f.name);
    });
  }
  if (features.length === 0) r.fail(`${key}.schema`, 'expected at least one feature column');
  return { name, entities: entityNames, joinKeys, ttlSeconds, source, features };
}
