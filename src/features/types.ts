/** Feast's value types that infergate stores and serves. */
export const FEAST_DTYPES = ['Float32', 'Float64', 'Int32', 'Int64', 'String', 'Bool'] as const;
export type FeastDtype = (typeof FEAST_DTYPES)[number];

/** One feature value as stored and served; null is a stored null (Feast's NULL_VALUE). */
export type FeatureValue = number | string | boolean | null;

/** An entity and the columns that identify it (Feast's join keys). */
export interface EntityDef {
  name: string;
  joinKeys: string[];
  /** The join key's type when declared (`value_type`); otherwise taken from the sources. */
  valueType?: FeastDtype;
}

export interface FeatureField {
  name: string;
  dtype: FeastDtype;
}

export type SourceFormat = 'csv' | 'parquet';

/** A batch source: a file, read whole on materialization. */
export interface FileSource {
  /** Absolute path (resolved against the definitions file's folder). */
  path: string;
  format: SourceFormat;
  timestampField: string;
}

/** Feast's FeatureView: features of one entity set, read from one source, with a ttl. */
export interface FeatureViewDef {
  name: string;
  entities: string[];
  /** The join keys of its entities, in order, with their types. */
  joinKeys: FeatureField[];
  /** Seconds; 0 = never stale (as Feast). */
  ttlSeconds: number;
  source: FileSource;
  /** The features, in schema order. */
  features: FeatureField[];
}

export interface PushSourceDef {
  name: string;
  featureViews: string[];
}

/** One `view:feature` reference. */
export interface FeatureRef {
  view: string;
  feature: string;
}

export interface FeatureServiceDef {
  name: string;
  refs: FeatureRef[];
}

export interface CacheConfig {
  /** 0 turns the cache off. */
  maxEntries: number;
  /** Longest an entry lives, seconds; an entry never outlives its view's ttl either. */
  ttlSeconds: number;
}

export type OnlineStoreConfig =
  | { type: 'sqlite'; path: string; cache: CacheConfig }
  | { type: 'redis'; connectionString: string; keyPrefix: string; cache: CacheConfig };

/** A parsed feature_store.yaml. */
export interface FeatureStoreDef {
  /** The file the definitions came from (named in errors). */
  file: string;
  project: string;
  onlineStore: OnlineStoreConfig;
  entities: Map<string, EntityDef>;
  featureViews: Map<string, FeatureViewDef>;
  pushSources: Map<string, PushSourceDef>;
  featureServices: Map<string, FeatureServiceDef>;
}
