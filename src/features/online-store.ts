import type { FeatureValue } from './types.js';

/** The latest row of one entity key in one feature view. */
export interface StoredRow {
  /** Event time, epoch milliseconds. */
  eventTs: number;
  /** Feature name to value; a feature absent here was never written (NOT_FOUND). */
  values: Record<string, FeatureValue>;
}

/** A row to write: the store keeps it only when it is not older than the row it holds. */
export interface RowWrite extends StoredRow {
  entityKey: string;
}

/** One view's part of a batched read. */
export interface ViewLookup {
  view: string;
  /** The features of the view (all of them: rows are cached whole). */
  features: readonly string[];
  /** The join keys' column names of the view (Redis hashes are per entity key). */
  joinKeys: readonly string[];
  entityKeys: readonly string[];
}

/**
 * Where online features live: the latest row per entity key and view, with its event time,
 * and the materialization watermark per view. SQLite and Redis implement it.
 */
export interface OnlineStore {
  /** `sqlite` or `redis`: a metrics label. */
  readonly kind: string;
  /** What to name in errors: the kind and its file or URL. */
  readonly describe: string;
  /** Reads every lookup in one batched round trip; rows line up with each lookup's keys. */
  read(lookups: readonly ViewLookup[]): Promise<(StoredRow | undefined)[][]>;
  /** Writes rows of one view, keeping the newer row per key; returns how many replaced or added a row. */
  write(view: string, joinKeys: readonly string[], rows: readonly RowWrite[]): Promise<number>;
  /** The end of the last materialization per view, epoch ms. */
  materializedUntil(view: string): Promise<number | undefined>;
  setMaterializedUntil(view: string, endMs: number): Promise<void>;
  /** Whether the store answers now. */
  ping(): Promise<void>;
  /** For a networked store: waits up to `ms` for its first connection; false when it did not come. */
  connected?(ms: number): Promise<boolean>;
  close(): Promise<void>;
}
