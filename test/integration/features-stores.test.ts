import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureStore } from '../../src/features/feature-store.js';
import { materialize, materializeIncremental } from '../../src/features/materialize.js';
import type { OnlineStore } from '../../src/features/online-store.js';
import { RedisOnlineStore } from '../../src/features/redis-store.js';
import { SqliteOnlineStore } from '../../src/features/sqlite-store.js';
import { loadFeatureStoreDef } from '../../src/features/definitions.js';
import { featureNames, patients, tempDir, writeFeatureStore } from '../helpers/features.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `infergate-test-stores-${process.pid}-${Date.now().toString(36)}:`;

/** Deletes every key this file wrote on the shared Redis. */
async function cleanRedis(): Promise<void> {
  const c = createClient({ url: REDIS_URL });
  await c.connect();
  for await (const keys of c.scanIterator({ MATCH: `${PREFIX}*`, COUNT: 1000 })) if (keys.length) await c.del(keys);
  await c.close();
}

const dir = tempDir('infergate-features-stores-');
afterAll(async () => {
  await cleanRedis();
  rmSync(dir, { recursive: true, force: true });
});

const kinds: { name: string; open: (project: string) => OnlineStore }[] = [
  { name: 'sqlite', open: (project) => new SqliteOnlineStore(join(dir, `${project}.db`), project) },
  { name: 'redis', open: (project) => new RedisOnlineStore({ url: REDIS_URL, project, keyPrefix: PREFIX }) },
];

describe.each(kinds)('online store: $name', ({ name, open }) => {
  let store: OnlineStore;
  beforeAll(async () => {
    store = open(`p_${name}`);
    if (store instanceof RedisOnlineStore) expect(await store.connected(5000)).toBe(true);
  });
  afterAll(async () => {
    await store.close();
  });

  it('keeps the latest row per entity key: an older write never replaces a newer one', async () => {
    const view = 'v_latest';
    expect(await store.write(view, ['id'], [{ entityKey: 'a', eventTs: 2000, values: { x: 2, s: 'two' } }])).toBe(1);
    expect(await store.write(view, ['id'], [{ entityKey: 'a', eventTs: 1000, values: { x: 1, s: 'one' } }])).toBe(0);
    const [[row, missing]] = await store.read([{ view, features: ['x', 's'], joinKeys: ['id'], entityKeys: ['a', 'b'] }]);
    expect(row).toEqual({ eventTs: 2000, values: { x: 2, s: 'two' } });
    expect(missing).toBeUndefined();
    // Equal event time: the later write wins (a re-run writes the same row again).
    expect(await store.write(view, ['id'], [{ entityKey: 'a', eventTs: 2000, values: { x: 3, s: null } }])).toBe(1);
    const [[again]] = await store.read([{ view, features: ['x', 's'], joinKeys: ['id'], entityKeys: ['a'] }]);
    expect(again).toEqual({ eventTs: 2000, values: { x: 3, s: null } });
  });

  it('reads several views in one call, rows lined up with the keys asked', async () => {
    await store.write('v1', ['id'], [{ entityKey: 'k1', eventTs: 5, values: { f: 1.5 } }, { entityKey: 'k2', eventTs: 6, values: { f: -2 } }]);
    await store.write('v2', ['id'], [{ entityKey: 'k2', eventTs: 7, values: { g: true } }]);
    const [a, b] = await store.read([
      { view: 'v1', features: ['f'], joinKeys: ['id'], entityKeys: ['k2', 'k1', 'k3'] },
      { view: 'v2', features: ['g'], joinKeys: ['id'], entityKeys: ['k1', 'k2'] },
    ]);
    expect(a.map((r) => r?.values.f)).toEqual([-2, 1.5, undefined]);
    expect(b.map((r) => r?.values.g)).toEqual([undefined, true]);
  });

  it('keeps the materialization watermark per view', async () => {
    expect(await store.materializedUntil('v_wm')).toBeUndefined();
    await store.setMaterializedUntil('v_wm', 1_700_000_000_000);
    expect(await store.materializedUntil('v_wm')).toBe(1_700_000_000_000);
  });

  it('materializes patients_features.csv: every patient equals the CSV, re-running changes nothing', async () => {
    const file = writeFeatureStore(tempDir(`infergate-fs-${name}-`));
    const def = await loadFeatureStoreDef(file);
    const fs = new FeatureStore(def, store, new Registry());
    const views = [def.featureViews.get('patient_features')!];
    const [res] = await materialize(fs, views, Date.parse('2026-10-01T00:00:00Z'), Date.parse('2026-12-01T00:00:00Z'));
    expect(res.rows).toBe(569);
    const all = patients();
    const names = featureNames();
    const [rows] = await fs.lookup(views, [all.map((p) => p.patient_id)], Date.now());
    all.forEach((p, i) => {
      expect(rows[i]?.eventTs, p.patient_id).toBe(p.eventMs);
      expect(names.map((n) => rows[i]!.values[n]), p.patient_id).toEqual(p.features);
    });
    await materialize(fs, views, Date.parse('2026-10-01T00:00:00Z'), Date.parse('2026-12-01T00:00:00Z'));
    const [again] = await store.read([{ view: 'patient_features', features: names, joinKeys: ['patient_id'], entityKeys: all.map((p) => p.patient_id) }]);
    expect(again).toEqual(rows);
    expect(await store.materializedUntil('patient_features')).toBe(Date.parse('2026-12-01T00:00:00Z'));
  });

  it('materialize-incremental starts at the last end and takes only newer rows', async () => {
    const file = writeFeatureStore(tempDir(`infergate-fs-inc-${name}-`));
    const def = await loadFeatureStoreDef(file);
    // A project of its own, so this test starts from an empty store.
    const s2 = open(`p_inc_${name}`);
    if (s2 instanceof RedisOnlineStore) await s2.connected(5000);
    const fs = new FeatureStore({ ...def, project: `p_inc_${name}` }, s2, new Registry());
    const views = [def.featureViews.get('patient_features')!];
    const mid = Date.parse('2026-11-01T00:00:00Z');
    const [first] = await materialize(fs, views, Date.parse('2026-10-01T00:00:00Z'), mid);
    const octCount = patients().filter((p) => p.eventMs < mid).length;
    expect(first.rows).toBe(octCount);
    const [second] = await materializeIncremental(fs, views, Date.parse('2026-12-01T00:00:00Z'));
    expect(second.startMs).toBe(mid);
    expect(second.rows).toBe(569 - octCount);
    const late = patients().find((p) => p.eventMs >= mid)!;
    const [[row]] = await fs.lookup(views, [[late.patient_id]], Date.now());
    expect(row?.values.mean_radius).toBe(late.features[0]);
    await s2.close();
  });
});
