import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, cliBuilt, startCli } from '../helpers/cli.js';
import { featureRepository } from '../helpers/feature-gateway.js';
import { featureNames, patients, tempDir, writeFeatureStore } from '../helpers/features.js';
import { postJson, scratchRepository } from '../helpers/gateway.js';

const all = patients();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function cli(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe.skipIf(!cliBuilt)('infergate features and serve, the built CLI (skipped when dist/ is not built: run npx tsc -p .)', () => {
  it('features materialize then serve: lookups and fused inference answer from the materialized store', async () => {
    const repo = featureRepository();
    dirs.push(repo);
    const m = cli(['features', 'materialize', '2026-10-01', '2026-12-01T00:00:00Z', '--model-repository', repo]);
    expect(m.code, m.out).toBe(0);
    expect(m.out).toContain('patient_features from 2026-10-01T00:00:00Z to 2026-12-01T00:00:00Z:');
    expect(m.out).toMatch(/100%\|█+\| 569\/569/);
    const inc = cli(['features', 'materialize-incremental', '2026-12-02', '--model-repository', repo, '-v', 'patient_recent']);
    expect(inc.code, inc.out).toBe(0);
    expect(inc.out).toContain('patient_recent from 2026-12-01T00:00:00Z to 2026-12-02T00:00:00Z:');

    const server = await startCli(repo);
    try {
      const ids = all.slice(100, 140).map((p) => p.patient_id);
      const res = await postJson(`${server.url}/get-online-features`, { feature_service: 'breast_cancer', entities: { patient_id: ids } });
      expect(res.status).toBe(200);
      featureNames().forEach((_, f) => expect(res.body.results[f + 1].values).toEqual(all.slice(100, 140).map((p) => p.features[f])));
      const fused = await postJson(`${server.url}/v2/models/tabular_mlp/versions/1/infer`, { inputs: [{ name: 'patient_id', datatype: 'BYTES', shape: [3, 1], data: ids.slice(0, 3) }] });
      const direct = await postJson(`${server.url}/v2/models/tabular_mlp/versions/1/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [3, 30], data: all.slice(100, 103).flatMap((p) => p.features) }] });
      expect(fused.status, JSON.stringify(fused.body)).toBe(200);
      expect(fused.body.outputs[0].data).toEqual(direct.body.outputs[0].data);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('serve --feature-store FILE takes definitions from outside the model repository', async () => {
    const repo = scratchRepository(['simple']);
    const defs = tempDir('infergate-defs-');
    dirs.push(repo, defs);
    const file = writeFeatureStore(defs);
    expect(cli(['features', 'materialize', '2026-10-01', '2026-12-01', '--feature-store', file]).code).toBe(0);
    const server = await startCli(repo, ['--feature-store', file]);
    try {
      const res = await postJson(`${server.url}/get-online-features`, { features: ['patient_features:worst_area'], entities: { patient_id: ['p000000'] } });
      expect(res.body.results[1].values).toEqual([2019]);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('reports usage errors and bad definitions with exit code 2, naming the file and key', () => {
    const few = cli(['features', 'materialize', '2026-10-01']);
    expect(few.code).toBe(2);
    expect(few.out).toMatch(/expected START and END/);
    const badTime = cli(['features', 'materialize-incremental', 'tomorrow']);
    expect(badTime.code).toBe(2);
    expect(badTime.out).toMatch(/END 'tomorrow' is not an ISO 8601 time/);
    const defs = tempDir('infergate-baddefs-');
    dirs.push(defs);
    writeFeatureStore(defs);
    const file = join(defs, 'feature_store.yaml');
    writeFileSync(file, 'project: demo\nentities: [{name: patient, join_keys: [patient_id]}]\nfeature_views:\n  - {name: v, entities: [patient], ttl: forever, source: {path: patients_features.csv}}\n');
    const bad = cli(['features', 'materialize', '2026-10-01', '2026-12-01', '--feature-store', file]);
    expect(bad.code).toBe(2);
    expect(bad.out).toContain(`${file}: feature_views[0].ttl: expected seconds or a duration like 90d`);
    const serve = cli(['serve', '--model-repository', defs, '--feature-store', file, '--http-port', '0', '--grpc-port=-1', '--metrics-port=-1']);
    expect(serve.code).toBe(2);
    expect(serve.out).toContain('feature_views[0].ttl');
  });
});
