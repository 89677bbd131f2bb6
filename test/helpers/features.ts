import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * The shared data folder: $INFERGATE_SHARED_DATA, else ../shared/data beside the repository
 * (a clone), else ../../shared/data (a worktree one level down).
 */
export function sharedData(): string {
  const candidates = [process.env.INFERGATE_SHARED_DATA, join(ROOT, '../shared/data'), join(ROOT, '../../shared/data')].filter(Boolean) as string[];
  const found = candidates.find((d) => existsSync(join(d, 'patients_features.csv')));
  if (!found) throw new Error(`patients_features.csv not found in ${candidates.join(' or ')}; set INFERGATE_SHARED_DATA to the shared data folder`);
  return found;
}

export const PATIENTS_CSV = (): string => join(sharedData(), 'patients_features.csv');

export interface Patient {
  patient_id: string;
  event_timestamp: string;
  eventMs: number;
  features: number[];
}

/** The 30 feature names in the model's order, from the CSV header. */
export function featureNames(): string[] {
  return readFileSync(PATIENTS_CSV(), 'utf8').split('\n')[0].split(',').slice(2);
}

/** Every patient of the CSV (a plain split: the file has no quoted fields). */
export function patients(): Patient[] {
  const [, ...lines] = readFileSync(PATIENTS_CSV(), 'utf8').trim().split('\n');
  return lines.map((l) => {
    const [id, ts, ...vals] = l.split(',');
    return { patient_id: id, event_timestamp: ts, eventMs: Date.parse(ts), features: vals.map(Number) };
  });
}

export interface StoreYamlOptions {
  store?: 'sqlite' | 'redis';
  redisUrl?: string;
  keyPrefix?: string;
  /** `false` turns the cache off. */
  cache?: false | { max_entries?: number; ttl?: string };
  ttl?: string;
}

/**
 * Writes feature_store.yaml into `dir` with a copy of patients_features.csv beside it
 * (the source path is relative to the yaml file): views patient_features (every column,
 * ttl 90d) and patient_recent (two features, ttl 1d), a push source and two services.
 */
export function writeFeatureStore(dir: string, o: StoreYamlOptions = {}): string {
  copyFileSync(PATIENTS_CSV(), join(dir, 'patients_features.csv'));
  const store = o.store === 'redis'
    ? `{type: redis, connection_string: "${o.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'}", key_prefix: "${o.keyPrefix ?? ''}"${cacheYaml(o.cache)}}`
    : `{type: sqlite, path: .infergate/online.db${cacheYaml(o.cache)}}`;
  const file = join(dir, 'feature_store.yaml');
  writeFileSync(file, `project: demo
online_store: ${store}
entities:
  - {name: patient, join_keys: [patient_id]}
feature_views:
  - name: patient_features
    entities: [patient]
    ttl: ${o.ttl ?? '90d'}
    source: {path: patients_features.csv, timestamp_field: event_timestamp}
  - name: patient_recent
    entities: [patient]
    ttl: 1d
    source: {path: patients_features.csv, timestamp_field: event_timestamp}
    schema: [{name: mean_radius, dtype: Float32}, {name: worst_area}]
push_sources:
  - {name: patient_push, feature_views: [patient_features]}
feature_services:
  - {name: breast_cancer, features: [patient_features]}
  - {name: mixed, features: ["patient_recent:worst_area", "patient_features:mean_texture"]}
`);
  return file;
}

function cacheYaml(c: StoreYamlOptions['cache']): string {
  if (c === undefined) return '';
  if (c === false) return ', cache: false';
  return `, cache: {${Object.entries(c).map(([k, v]) => `${k}: ${v}`).join(', ')}}`;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Feast's status for a row of a view with this ttl, read now; either near the boundary. */
export function expectedStatus(eventMs: number, ttlSeconds: number, nowMs = Date.now()): string[] {
  const age = (nowMs - eventMs) / 1000;
  if (Math.abs(age - ttlSeconds) < 120) return ['PRESENT', 'OUTSIDE_MAX_AGE'];
  return [age > ttlSeconds ? 'OUTSIDE_MAX_AGE' : 'PRESENT'];
}
