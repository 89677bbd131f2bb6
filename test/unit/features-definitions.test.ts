import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/features/csv.js';
import { loadFeatureStoreDef, parseFeatureStoreDef } from '../../src/features/definitions.js';
import { parseDuration } from '../../src/features/duration.js';
import { FeatureStore, type FieldStatus } from '../../src/features/feature-store.js';
import { materialize } from '../../src/features/materialize.js';
import { onlineFeaturesText } from '../../src/features/online-features.js';
import type { FeatureValue } from '../../src/features/types.js';
import { SqliteOnlineStore } from '../../src/features/sqlite-store.js';
import { parseTimestamp, rfc3339 } from '../../src/features/values.js';
import { featureNames, patients, tempDir, writeFeatureStore } from '../helpers/features.js';

/** Feast's GetOnlineFeaturesResponse as a client parses it from the text the route sends. */
interface OnlineFeaturesJson {
  metadata: { feature_names: string[] };
  results: { values: (FeatureValue | string | number)[]; statuses: FieldStatus[]; event_timestamps: string[] }[];
}
const getOnlineFeatures = async (fs: FeatureStore, body: unknown, nowMs?: number): Promise<OnlineFeaturesJson> =>
  JSON.parse(await onlineFeaturesText(fs, body, nowMs)) as OnlineFeaturesJson;

const dir = tempDir('infergate-defs-unit-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Parses YAML-as-object definitions written in `dir`, which holds a copy of the CSV. */
function defs(obj: unknown) {
  writeFeatureStore(dir);
  return parseFeatureStoreDef(obj, join(dir, 'feature_store.yaml'));
}
const base = () => ({
  project: 'demo',
  entities: [{ name: 'patient', join_keys: ['patient_id'] }],
  feature_views: [{ name: 'pf', entities: ['patient'], ttl: '90d', source: { path: 'patients_features.csv', timestamp_field: 'event_timestamp' } }],
});

describe('feature_store.yaml', () => {
  it('reads Feast concepts: defaults, inferred schema, relative source path, sqlite under .infergate/', async () => {
    const file = writeFeatureStore(dir);
    const d = await loadFeatureStoreDef(file);
    expect(d.project).toBe('demo');
    expect(d.onlineStore).toMatchObject({ type: 'sqlite', path: join(dir, '.infergate/online.db') });
    const pf = d.featureViews.get('patient_features')!;
    expect(pf.ttlSeconds).toBe(90 * 86400);
    expect(pf.source.path).toBe(join(dir, 'patients_features.csv'));
    expect(pf.joinKeys).toEqual([{ name: 'patient_id', dtype: 'String' }]);
    expect(pf.features.map((f) => f.name)).toEqual(featureNames());
    expect(new Set(pf.features.map((f) => f.dtype))).toEqual(new Set(['Float64']));
    expect(d.featureViews.get('patient_recent')!.features).toEqual([{ name: 'mean_radius', dtype: 'Float32' }, { name: 'worst_area', dtype: 'Float64' }]);
    expect(d.featureServices.get('breast_cancer')!.refs).toHaveLength(30);
    expect(d.pushSources.get('patient_push')!.featureViews).toEqual(['patient_features']);
  });

  it('errors name the file, the key and what was expected', async () => {
    const file = join(dir, 'feature_store.yaml');
    const cases: [(o: ReturnType<typeof base>) => unknown, string][] = [
      [(o) => ({ ...o, project: undefined }), 'project: expected a name'],
      [(o) => ({ ...o, extra: 1 }), "extra: unknown key"],
      [(o) => ({ ...o, online_store: { type: 'dynamo' } }), 'online_store.type: expected sqlite or redis, got "dynamo"'],
      [(o) => ({ ...o, online_store: { type: 'redis', connection_string: 'redis://[bad' } }), 'online_store.connection_string: expected redis://'],
      [(o) => ({ ...o, online_store: { cache: { max_entries: -1 } } }), 'online_store.cache.max_entries: expected an integer >= 0'],
      [(o) => ({ ...o, entities: [] }), 'entities: expected at least one entity'],
      [(o) => { o.feature_views[0].entities = ['customer']; return o; }, 'feature_views[0].entities[0]: expected an entity defined in entities (patient), got "customer"'],
      [(o) => { o.feature_views[0].ttl = '3 weeks'; return o; }, 'feature_views[0].ttl: expected seconds or a duration'],
      [(o) => { o.feature_views[0].source.path = 'missing.csv'; return o; }, 'feature_views[0].source.path: '],
      [(o) => { o.feature_views[0].source.path = 'data.json'; return o; }, 'feature_views[0].source.file_format: expected csv or parquet'],
      [(o) => { o.feature_views[0].source.timestamp_field = 'ts'; return o; }, "feature_views[0].source.timestamp_field: source "],
      [(o) => ({ ...o, feature_views: [{ ...o.feature_views[0], schema: [{ name: 'nope' }] }] }), "feature_views[0].schema[0].name: source"],
      [(o) => ({ ...o, feature_views: [{ ...o.feature_views[0], schema: [{ name: 'mean_radius', dtype: 'Float16' }] }] }), 'feature_views[0].schema[0].dtype: expected one of Float32, Float64'],
      [(o) => ({ ...o, push_sources: [{ name: 'p', feature_views: ['nope'] }] }), 'push_sources[0].feature_views[0]: expected a feature view'],
      [(o) => ({ ...o, feature_services: [{ name: 's', features: ['pf:nope'] }] }), "feature_services[0].features[0]: feature view 'pf' has no feature 'nope'"],
      [(o) => ({ ...o, feature_services: [{ name: 's', features: ['other'] }] }), 'feature_services[0].features[0]: expected a feature view name or "view:feature"'],
    ];
    for (const [mutate, msg] of cases) {
      await expect(defs(mutate(base())), msg).rejects.toThrow(`${file}: ${msg}`);
    }
  });

  it('parses durations, timestamps and RFC 3339 as Feast writes them', () => {
    expect(parseDuration('90d')).toBe(7776000);
    expect(parseDuration('12h')).toBe(43200);
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('45s')).toBe(45);
    expect(parseDuration(3600)).toBe(3600);
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseTimestamp('2026-11-01')).toBe(Date.parse('2026-11-01T00:00:00Z'));
    expect(parseTimestamp('2026-11-01T02:00:00')).toBe(Date.parse('2026-11-01T02:00:00Z')); // no zone: UTC
    expect(parseTimestamp('2026-11-01T02:00:00+02:00')).toBe(Date.parse('2026-11-01T00:00:00Z'));
    expect(parseTimestamp('yesterday')).toBeUndefined();
    expect(rfc3339(Date.parse('2026-10-12T20:45:14Z'))).toBe('2026-10-12T20:45:14Z');
    expect(rfc3339(Date.parse('2026-10-12T20:45:14.250Z'))).toBe('2026-10-12T20:45:14.250Z');
  });

  it('reads CSV with quotes, CRLF and a BOM; rejects ragged rows naming the row', () => {
    const { columns, cells } = parseCsv('\ufeffa,b\r\n"x, ""y""",2\r\n3,\n', 'f.csv');
    expect(columns).toEqual(['a', 'b']);
    expect(cells).toEqual([['x, "y"', '2'], ['3', '']]);
    expect(() => parseCsv('a,b\n1\n', 'f.csv')).toThrow('f.csv: data row 1 has 1 fields, the header has 2');
  });
});

describe('a Parquet source (written by hyparquet-writer, read by hyparquet)', () => {
  it('materializes and serves the same values as the CSV, with Parquet types', async () => {
    const all = patients();
    const names = featureNames();
    const pq = join(dir, 'patients.parquet');
    parquetWriteFile({
      filename: pq,
      columnData: [
        { name: 'patient_id', data: all.map((p) => p.patient_id), type: 'STRING' },
        { name: 'event_timestamp', data: all.map((p) => new Date(p.eventMs)), type: 'TIMESTAMP' },
        ...names.map((n, f) => ({ name: n, data: all.map((p) => p.features[f]), type: 'DOUBLE' as const })),
        { name: 'visits', data: all.map((_, i) => i % 7), type: 'INT32' as const },
      ],
    });
    const file = join(dir, 'parquet_store.yaml');
    writeFileSync(file, `project: pq
online_store: {path: .infergate/parquet.db}
entities: [{name: patient, join_keys: [patient_id]}]
feature_views:
  - {name: pv, entities: [patient], source: {path: patients.parquet}}
`);
    const d = await loadFeatureStoreDef(file);
    const view = d.featureViews.get('pv')!;
    expect(view.source.format).toBe('parquet');
    expect(view.features.find((f) => f.name === 'visits')!.dtype).toBe('Int32');
    expect(view.features.find((f) => f.name === 'mean_radius')!.dtype).toBe('Float64');
    const fs = new FeatureStore(d, new SqliteOnlineStore(d.onlineStore.type === 'sqlite' ? d.onlineStore.path : '', 'pq'), new Registry());
    const [res] = await materialize(fs, [view], 0, Date.parse('2027-01-01T00:00:00Z'));
    expect(res.rows).toBe(569);
    const ids = all.map((p) => p.patient_id);
    const out = await getOnlineFeatures(fs, { features: ['pv:mean_radius', 'pv:visits'], entities: { patient_id: ids } });
    expect(out.results[1].values).toEqual(all.map((p) => p.features[0]));
    expect(out.results[2].values).toEqual(all.map((_, i) => i % 7));
    expect(out.results[1].event_timestamps).toEqual(all.map((p) => p.event_timestamp));
    await fs.close();
  });

  it('a CSV cell that does not fit its dtype fails materialization naming file, row and column', async () => {
    const csv = join(dir, 'bad.csv');
    writeFileSync(csv, 'patient_id,event_timestamp,x\np1,2026-11-01T00:00:00Z,1.5\np2,2026-11-02T00:00:00Z,oops\n');
    const file = join(dir, 'bad_store.yaml');
    writeFileSync(file, `project: bad
online_store: {path: .infergate/bad.db}
entities: [{name: patient, join_keys: [patient_id]}]
feature_views:
  - {name: bv, entities: [patient], source: {path: bad.csv}, schema: [{name: x, dtype: Float64}]}
`);
    const d = await loadFeatureStoreDef(file);
    const fs = new FeatureStore(d, new SqliteOnlineStore(join(dir, '.infergate/bad.db'), 'bad'), new Registry());
    await expect(materialize(fs, [d.featureViews.get('bv')!], 0, Date.now())).rejects.toThrow(`feature view 'bv': ${csv} data row 2, column x: expected Float64, got "oops"`);
    await fs.close();
  });
});

describe("the response shape of Feast's feature server", () => {
  it('a cached row answers alike on every hit, turns OUTSIDE_MAX_AGE once past the ttl, and a rewrite is served at once', async () => {
    const d = await loadFeatureStoreDef(writeFeatureStore(dir));
    const fs = new FeatureStore(d, new SqliteOnlineStore(':memory:', 'demo'), new Registry());
    expect(fs.cached.enabled).toBe(true);
    const t = Date.parse('2026-11-30T00:00:00Z');
    const hour = 3_600_000;
    await fs.cached.write('patient_recent', ['patient_id'], [{ entityKey: 'c1', eventTs: t, values: { mean_radius: 1.5, worst_area: 7 } }]);
    const ask = (now: number) => getOnlineFeatures(fs, { features: ['patient_recent:mean_radius', 'patient_recent:worst_area'], entities: { patient_id: ['c1'] } }, now);
    const fresh = { values: [1.5], statuses: ['PRESENT'], event_timestamps: ['2026-11-30T00:00:00Z'] };
    expect((await ask(t + 23 * hour)).results[1]).toEqual(fresh); // read from the store, then cached
    expect((await ask(t + 23 * hour)).results[1]).toEqual(fresh); // from the cache
    // patient_recent's ttl is 1d: past it the same cached row is stale.
    expect((await ask(t + 25 * hour)).results.map((r) => r.statuses[0])).toEqual(['PRESENT', 'OUTSIDE_MAX_AGE', 'OUTSIDE_MAX_AGE']);
    expect((await ask(t + 23 * hour)).results[1]).toEqual(fresh); // an answer for an earlier time is not the stale one
    await fs.cached.write('patient_recent', ['patient_id'], [{ entityKey: 'c1', eventTs: t + 25 * hour, values: { mean_radius: 2.5, worst_area: 8 } }]);
    const after = await ask(t + 25 * hour);
    expect(after.results.slice(1).map((r) => [r.values[0], r.statuses[0]])).toEqual([[2.5, 'PRESENT'], [8, 'PRESENT']]);
    await fs.close();
  });

  it('a stored null is NULL_VALUE, null, with the row time; a never-written feature NOT_FOUND', async () => {
    const file = writeFeatureStore(dir);
    const d = await loadFeatureStoreDef(file);
    const fs = new FeatureStore(d, new SqliteOnlineStore(':memory:', 'demo'), new Registry());
    const values: Record<string, number | null> = Object.fromEntries(featureNames().map((n) => [n, 1]));
    values.mean_radius = null;
    await fs.cached.write('patient_features', ['patient_id'], [{ entityKey: 'n1', eventTs: Date.parse('2026-11-30T00:00:00Z'), values }]);
    const out = await getOnlineFeatures(fs, { features: ['patient_features:mean_radius', 'patient_features:mean_texture'], entities: { patient_id: ['n1'] } }, Date.parse('2026-12-01T00:00:00Z'));
    expect(out).toEqual({
      metadata: { feature_names: ['patient_id', 'mean_radius', 'mean_texture'] },
      results: [
        { values: ['n1'], statuses: ['PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z'] },
        { values: [null], statuses: ['NULL_VALUE'], event_timestamps: ['2026-11-30T00:00:00Z'] },
        { values: [1], statuses: ['PRESENT'], event_timestamps: ['2026-11-30T00:00:00Z'] },
      ],
    });
    await fs.close();
  });
});

