import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { MAX_ENTITY_ROWS } from '../../src/features/feature-store.js';
import { expectedStatus, featureNames, patients } from '../helpers/features.js';
import { deleteRedisPrefix, featureRepository, startFeatureGateway } from '../helpers/feature-gateway.js';
import { getJson, postJson } from '../helpers/gateway.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `infergate-test-http-${process.pid}-${Date.now().toString(36)}:`;
const all = patients();
const names = featureNames();
const DAY = 86400;
const NINETY_DAYS = 90 * DAY;

describe.each(['sqlite', 'redis'] as const)("Feast's feature server API on %s", (store) => {
  let gw: Gateway;
  let url: string;
  let repo: string;
  beforeAll(async () => {
    repo = featureRepository({ store, redisUrl: REDIS_URL, keyPrefix: PREFIX });
    ({ gw, url } = await startFeatureGateway(repo));
  });
  afterAll(async () => {
    await gw?.stop();
    if (store === 'redis') await deleteRedisPrefix(REDIS_URL, PREFIX);
    rmSync(repo, { recursive: true, force: true });
  });
  const get = (body: unknown) => postJson(`${url}/get-online-features`, body);

  it('by feature list: every patient, values equal the CSV, in request order, join key first', async () => {
    const ids = all.map((p) => p.patient_id).reverse();
    const { status, body } = await get({ features: names.map((n) => `patient_features:${n}`), entities: { patient_id: ids } });
    expect(status).toBe(200);
    expect(body.metadata.feature_names).toEqual(['patient_id', ...names]);
    expect(body.results).toHaveLength(31);
    expect(body.results[0]).toEqual({ values: ids, statuses: ids.map(() => 'PRESENT'), event_timestamps: ids.map(() => '1970-01-01T00:00:00Z') });
    const byId = new Map(all.map((p) => [p.patient_id, p]));
    names.forEach((n, f) => {
      const vec = body.results[f + 1];
      expect(vec.values, n).toEqual(ids.map((id) => byId.get(id)!.features[f]));
      expect(vec.event_timestamps).toEqual(ids.map((id) => byId.get(id)!.event_timestamp));
      vec.statuses.forEach((s: string, i: number) => expect(expectedStatus(byId.get(ids[i])!.eventMs, NINETY_DAYS)).toContain(s));
    });
  });

  it('by feature service, with duplicates kept, an unknown id NOT_FOUND and full feature names', async () => {
    const ids = ['p000003', 'nobody', 'p000003', 'p000568'];
    const { status, body } = await get({ feature_service: 'breast_cancer', entities: { patient_id: ids }, full_feature_names: true });
    expect(status).toBe(200);
    expect(body.metadata.feature_names).toEqual(['patient_id', ...names.map((n) => `patient_features__${n}`)]);
    const p3 = all[3];
    const last = all[568];
    const radius = body.results[1];
    expect(radius.values).toEqual([p3.features[0], null, p3.features[0], last.features[0]]);
    expect(radius.statuses[1]).toBe('NOT_FOUND');
    expect(radius.event_timestamps).toEqual([p3.event_timestamp, '1970-01-01T00:00:00Z', p3.event_timestamp, last.event_timestamp]);
  });

  it('a view with ttl 1d serves older rows as OUTSIDE_MAX_AGE, value kept (Feast Go server); Float32 as float32', async () => {
    const ids = all.map((p) => p.patient_id);
    const { body } = await get({ features: ['patient_recent:mean_radius', 'patient_features:mean_texture'], entities: { patient_id: ids } });
    const radius = body.results[1];
    let stale = 0;
    all.forEach((p, i) => {
      expect(expectedStatus(p.eventMs, DAY)).toContain(radius.statuses[i]);
      if (radius.statuses[i] === 'OUTSIDE_MAX_AGE') stale++;
      expect(radius.values[i]).toBe(Math.fround(p.features[0]));
    });
    // The data is from Oct-Nov 2026: (almost) every row is older than a day.
    expect(stale).toBeGreaterThan(500);
    const metrics = await (await fetch(`http://127.0.0.1:${gw.port('Metrics')}/metrics`)).text();
    expect(metrics).toMatch(/infergate_feature_outside_max_age_total\{view="patient_recent"\} \d+/);
  });

  it('groups a mixed service by view in order of first mention, as Feast does', async () => {
    const { body } = await get({ feature_service: 'mixed', entities: { patient_id: ['p000010'] } });
    expect(body.metadata.feature_names).toEqual(['patient_id', 'worst_area', 'mean_texture']);
    expect(body.results[1].values).toEqual([all[10].features[names.indexOf('worst_area')]]);
    expect(body.results[2].values).toEqual([all[10].features[1]]);
  });

  it('push writes through the cache: read back at once; an older push does not replace a newer row', async () => {
    const id = 'p000007';
    const before = await get({ features: ['patient_features:mean_radius'], entities: { patient_id: [id, 'pushed_new'] } }); // fills the cache
    expect(before.body.results[1].values).toEqual([all[7].features[0], null]);
    const df: Record<string, unknown[]> = { patient_id: [id, 'pushed_new'], event_timestamp: ['2026-11-30T12:00:00Z', '2026-11-30T12:00:00Z'] };
    names.forEach((n, i) => (df[n] = [1000 + i, 2000 + i]));
    const pushed = await postJson(`${url}/push`, { push_source_name: 'patient_push', df, to: 'online' });
    expect(pushed.status).toBe(200);
    const after = await get({ features: ['patient_features:mean_radius', 'patient_features:worst_fractal_dimension'], entities: { patient_id: [id, 'pushed_new'] } });
    expect(after.body.results[1].values).toEqual([1000, 2000]);
    expect(after.body.results[2].values).toEqual([1029, 2029]);
    expect(after.body.results[1].event_timestamps).toEqual(['2026-11-30T12:00:00Z', '2026-11-30T12:00:00Z']);
    const older = { ...df, event_timestamp: ['2026-10-01T00:00:00Z', '2026-10-01T00:00:00Z'], mean_radius: [1, 2] };
    expect((await postJson(`${url}/push`, { push_source_name: 'patient_push', df: older })).status).toBe(200);
    const kept = await get({ features: ['patient_features:mean_radius'], entities: { patient_id: [id] } });
    expect(kept.body.results[1].values).toEqual([1000]);
    // Re-materializing the (older) source row leaves the pushed newer row in place.
    await postJson(`${url}/materialize`, { start_ts: '2026-10-01T00:00:00Z', end_ts: '2026-12-01T00:00:00Z', feature_views: ['patient_features'] });
    expect((await get({ features: ['patient_features:mean_radius'], entities: { patient_id: [id] } })).body.results[1].values).toEqual([1000]);
  });

  it('materialize-incremental over HTTP moves the watermark; metrics report rows and the last time', async () => {
    const res = await postJson(`${url}/materialize-incremental`, { end_ts: '2026-12-02T00:00:00Z', feature_views: ['patient_recent'] });
    expect(res.status).toBe(200);
    expect(res.body).toBeNull();
    const metrics = await (await fetch(`http://127.0.0.1:${gw.port('Metrics')}/metrics`)).text();
    expect(metrics).toContain(`infergate_feature_last_materialized_timestamp_seconds{view="patient_recent"} ${Date.parse('2026-12-02T00:00:00Z') / 1000}`);
    expect(metrics).toMatch(/infergate_feature_rows_materialized_total\{view="patient_features"\} (\d+)/);
    expect(Number(/infergate_feature_rows_materialized_total\{view="patient_features"\} (\d+)/.exec(metrics)![1])).toBeGreaterThanOrEqual(569);
    expect(metrics).toMatch(new RegExp(`infergate_feature_lookup_duration_seconds_count\\{store="${store}"\\} [1-9]`));
    expect(metrics).toMatch(/infergate_feature_cache_hit_ratio \d/);
    expect(metrics).toMatch(/infergate_feature_not_found_total\{view="patient_features"\} [1-9]/);
  });

  it('bad requests get 400 with the field named, never 500', async () => {
    const ent = { patient_id: ['p000001'] };
    const cases: [unknown, RegExp][] = [
      [{ features: ['nope:mean_radius'], entities: ent }, /features\[0\]: unknown feature view 'nope'/],
      [{ features: ['patient_features:nope'], entities: ent }, /features\[0\]: feature view 'patient_features' has no feature 'nope'/],
      [{ features: ['patient_features'], entities: ent }, /features\[0\]: expected "feature_view:feature"/],
      [{ feature_service: 'nope', entities: ent }, /feature_service: unknown feature service 'nope'/],
      [{ features: ['patient_features:mean_radius'], entities: { customer_id: ['c1'] } }, /entities.customer_id': not a join key/],
      [{ features: ['patient_features:mean_radius'], entities: { patient_id: [17] } }, /entities.patient_id\[0\]': expected a string/],
      [{ features: ['patient_features:mean_radius'], entities: { patient_id: new Array(MAX_ENTITY_ROWS + 1).fill('p1') } }, /at most 1000 entity rows/],
      [{ features: ['patient_features:mean_radius', 'patient_recent:mean_radius'], entities: ent }, /'mean_radius' is requested twice/],
      [{ entities: ent }, /missing 'features'/],
      [{ features: ['patient_features:mean_radius'] }, /'entities': expected an object/],
      [{ features: ['patient_features:mean_radius'], entities: ent, full_feature_names: 'yes' }, /full_feature_names/],
      [{ features: ['patient_features:mean_radius'], entities: ent, extra: 1 }, /unknown field 'extra'/],
      [[1, 2], /expected a JSON object/],
    ];
    for (const [body, msg] of cases) {
      const res = await get(body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.body.error).toMatch(msg);
    }
    const malformed = await fetch(`${url}/get-online-features`, { method: 'POST', body: '{"features": [' });
    expect(malformed.status).toBe(400);
    expect((await malformed.json()).error).toMatch(/not valid JSON/);
    const pushCases: [unknown, RegExp][] = [
      [{ push_source_name: 'nope', df: {} }, /unknown push source 'nope'/],
      [{ push_source_name: 'patient_push', df: { patient_id: ['a'] } }, /missing column 'event_timestamp'/],
      [{ push_source_name: 'patient_push', df: { patient_id: ['a'] }, to: 'offline' }, /'to': only "online"/],
      [{ push_source_name: 'patient_push', df: { patient_id: ['a', 'b'], event_timestamp: ['x'] } }, /same number of values/],
    ];
    for (const [body, msg] of pushCases) {
      const res = await postJson(`${url}/push`, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(msg);
    }
    const df: Record<string, unknown[]> = { patient_id: ['a'], event_timestamp: ['2026-11-01T00:00:00Z'] };
    names.forEach((n) => (df[n] = [1]));
    df.mean_area = ['big'];
    const typed = await postJson(`${url}/push`, { push_source_name: 'patient_push', df });
    expect(typed.status).toBe(400);
    expect(typed.body.error).toMatch(/'df.mean_area\[0\]': expected Float64, got "big"/);
    expect((await get({ features: ['patient_features:mean_radius'], entities: { patient_id: ['a'] } })).body.results[1].statuses).toEqual(['NOT_FOUND']);
    const mat = await postJson(`${url}/materialize`, { start_ts: 'yesterday', end_ts: '2026-12-01' });
    expect(mat.status).toBe(400);
    expect(mat.body.error).toMatch(/'start_ts': expected an ISO 8601 time/);
    expect((await postJson(`${url}/materialize`, { start_ts: '2026-12-01', end_ts: '2026-11-01' })).status).toBe(400);
    expect((await postJson(`${url}/materialize-incremental`, { end_ts: '2026-12-01', feature_views: ['nope'] })).body.error).toMatch(/unknown feature view 'nope'/);
  });

  it('materializing a source row that does not fit its schema is 422 naming the file, row and column', async () => {
    const src = join(repo, 'patients_features.csv');
    const lines = readFileSync(src, 'utf8').trim().split('\n');
    const cells = lines[5].split(',');
    cells[2] = 'n/a';
    lines[5] = cells.join(',');
    writeFileSync(src, `${lines.join('\n')}\n`);
    const res = await postJson(`${url}/materialize`, { start_ts: '2026-10-01T00:00:00Z', end_ts: '2026-12-01T00:00:00Z', feature_views: ['patient_features'] });
    expect(res.status).toBe(422);
    expect(res.body.error).toBe(`feature view 'patient_features': ${src} data row 5, column mean_radius: expected Float64, got "n/a"`);
  });

  it('the repository scanner skips the .infergate state folder inside the model repository', async () => {
    const index = await postJson(`${url}/v2/repository/index`, {});
    expect(index.body.map((e: { name: string }) => e.name)).not.toContain('.infergate');
    expect((await getJson(`${url}/v2/models/simple/ready`)).status).toBe(200);
  });
});
