import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { DATA_MISSING } from '../helpers/drift-fixture.js';
import { MODELS, postJson } from '../helpers/gateway.js';
import { mlflow } from '../helpers/mlflow-client.js';
import { mlpVersion } from '../helpers/registry.js';
import { inferBody, liveRows, registryGateway, rollouts, scratchDir, until } from './helpers.js';

/** A tabular_mlp version folder whose config.yaml turns the drift monitor on (reference by absolute path: the artifact store keeps model.onnx and config.yaml only). */
function monitoredVersion(v: 1 | 2 | 3): string {
  const dir = scratchDir('infergate-src-');
  cpSync(join(mlpVersion(v), 'model.onnx'), join(dir, 'model.onnx'));
  const config = readFileSync(join(MODELS, 'tabular_mlp', 'config.yaml'), 'utf8')
    .replace(/^version_policy:\n {2}all: \{\}\n/m, '')
    .replace('reference: reference.csv', `reference: ${resolve(MODELS, 'tabular_mlp', 'reference.csv')}`);
  writeFileSync(join(dir, 'config.yaml'), config);
  return dir;
}

describe.skipIf(DATA_MISSING)('rollout analysis from the drift monitor: realised accuracy from label feedback', () => {
  let gw: Gateway;
  let url: string;
  beforeAll(async () => {
    ({ gw, url } = await registryGateway(scratchDir()));
    const api = mlflow(url, 'release');
    expect((await api.post('registered-models/create', { name: 'tabular_mlp' })).status).toBe(200);
    for (const v of [1, 2, 3] as const) {
      const r = await api.post('model-versions/create', { name: 'tabular_mlp', source: monitoredVersion(v) });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    expect((await api.post('registered-models/alias', { name: 'tabular_mlp', alias: 'champion', version: '1' })).status).toBe(200);
    await until('champion serving', async () => ((await postJson(`${url}/v2/models/tabular_mlp/infer`, inferBody(liveRows()[0].features))).body.model_version === '1' ? true : undefined));
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
  });

  it('v1 -> v3 with only an accuracy check: labels posted to the unversioned feedback path roll it back, the reason naming accuracy', { timeout: 120_000 }, async () => {
    const api = rollouts(url);
    const created = await api.create({
      model: 'tabular_mlp', baseline: 'champion', candidate: '3', steps: [10, 50, 100], interval: '1s', min_requests: 5, failure_limit: 2,
      analysis: [{ metric: 'accuracy', min_ratio: 0.98 }, { metric: 'dataset_drift', equals: false }], mirror_percent: 50,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.rollout.id;
    const rows = liveRows();
    let n = 0;
    let maxWeight = 0;
    const end = Date.now() + 60_000;
    while (Date.now() < end) {
      const r = await api.get(id);
      maxWeight = Math.max(maxWeight, r.weight);
      if (r.phase !== 'PROGRESSING') break;
      await Promise.all(Array.from({ length: 8 }, async () => {
        const i = n++;
        const row = rows[i % rows.length];
        const res = await postJson(`${url}/v2/models/tabular_mlp/infer`, { id: `q${i}`, ...inferBody(row.features) });
        expect(res.status).toBe(200);
        const fb = await postJson(`${url}/v2/models/tabular_mlp/feedback`, { id: `q${i}`, label: row.label });
        expect(fb.status, JSON.stringify(fb.body)).toBe(200);
      }));
    }
    const r = await api.get(id);
    expect(r.phase, JSON.stringify(r.runs.slice(-2))).toBe('ROLLED_BACK');
    expect(maxWeight).toBeLessThan(50);
    expect(r.reason).toMatch(/accuracy ratio 0\.\d+ \(candidate 0\.\d+ \/ baseline 0\.9\d+\) < min_ratio 0.98/);
    const failed = r.runs.filter((x: any) => x.outcome === 'failed');
    for (const f of failed) {
      expect(f.monitor.candidateAccuracy).toBeLessThan(0.8);
      expect(f.monitor.baselineAccuracy).toBeGreaterThan(0.9);
      expect(f.monitor.candidateDrift).toBe(false);
    }
  });
});
