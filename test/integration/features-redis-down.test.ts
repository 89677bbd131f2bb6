import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { featureRepository, startFeatureGateway } from '../helpers/feature-gateway.js';
import { featureNames, patients, tempDir } from '../helpers/features.js';
import { postJson } from '../helpers/gateway.js';
import { PrivateRedis, freePort } from '../helpers/private-redis.js';

const all = patients();
let redis: PrivateRedis;
let gw: Gateway;
let url: string;
let repo: string;
const dataDir = tempDir('infergate-private-redis-');

beforeAll(async () => {
  redis = new PrivateRedis(await freePort(), dataDir);
  await redis.start();
  // Cache off: every lookup goes to Redis, so its outage shows at once.
  repo = featureRepository({ store: 'redis', redisUrl: redis.url, cache: false });
  ({ gw, url } = await startFeatureGateway(repo));
});
afterAll(async () => {
  await gw?.stop();
  await redis?.stop();
  rmSync(repo, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

const lookup = () => postJson(`${url}/get-online-features`, { features: ['patient_features:mean_radius'], entities: { patient_id: ['p000000', 'p000001'] } });
const fused = () => postJson(`${url}/v2/models/tabular_mlp/versions/1/infer`, { inputs: [{ name: 'patient_id', datatype: 'BYTES', shape: [1], data: ['p000000'] }] });
const simple = () => postJson(`${url}/v2/models/simple/infer`, { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(3) }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(1) }] });

describe('Redis online store going down and coming back', () => {
  it('serves while Redis is up', async () => {
    const res = await lookup();
    expect(res.status).toBe(200);
    expect(res.body.results[1].values).toEqual([all[0].features[0], all[1].features[0]]);
    expect((await fused()).status).toBe(200);
  });

  it('while Redis is down: 503 naming the store for lookups, fused inference, push and materialize; other models serve', async () => {
    await redis.stop();
    const named = new RegExp(`online store redis \\(redis://127\\.0\\.0\\.1:${redis.port}\\) is unavailable`);
    const down = await lookup();
    expect(down.status).toBe(503);
    expect(down.body.error).toMatch(named);
    const inf = await fused();
    expect(inf.status).toBe(503);
    expect(inf.body.error).toMatch(named);
    const df: Record<string, unknown[]> = { patient_id: ['x'], event_timestamp: ['2026-11-01T00:00:00Z'] };
    const names = featureNames();
    names.forEach((n) => (df[n] = [1]));
    const pushed = await postJson(`${url}/push`, { push_source_name: 'patient_push', df });
    expect(pushed.status).toBe(503);
    expect(pushed.body.error).toMatch(named);
    const mat = await postJson(`${url}/materialize-incremental`, { end_ts: '2026-12-01T00:00:00Z' });
    expect(mat.status).toBe(503);
    const s = await simple();
    expect(s.status).toBe(200);
    expect(s.body.outputs[0].data).toEqual(new Array(16).fill(4));
    const metrics = await (await fetch(`http://127.0.0.1:${gw.port('Metrics')}/metrics`)).text();
    expect(metrics).toMatch(/infergate_feature_store_errors_total\{store="redis"\} [1-9]/);
  });

  it('recovers by itself once Redis is back, with the data it held', async () => {
    await redis.start();
    let res = await lookup();
    for (let i = 0; i < 100 && res.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await lookup();
    }
    expect(res.status).toBe(200);
    expect(res.body.results[1].values).toEqual([all[0].features[0], all[1].features[0]]);
    expect((await fused()).status).toBe(200);
  });
});

describe('Redis not running when the server starts', () => {
  it('starts, answers feature requests with 503 naming the store, serves other models, and stops promptly', async () => {
    const port = await freePort();
    const repo2 = featureRepository({ store: 'redis', redisUrl: `redis://127.0.0.1:${port}` });
    const started = await startFeatureGateway(repo2, [], false);
    try {
      const res = await postJson(`${started.url}/get-online-features`, { features: ['patient_features:mean_radius'], entities: { patient_id: ['p000000'] } });
      expect(res.status).toBe(503);
      expect(res.body.error).toContain(`online store redis (redis://127.0.0.1:${port}) is unavailable`);
      const s = await postJson(`${started.url}/v2/models/simple/infer`, { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(1) }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(1) }] });
      expect(s.status).toBe(200);
    } finally {
      await started.gw.stop();
      rmSync(repo2, { recursive: true, force: true });
    }
  });
});
