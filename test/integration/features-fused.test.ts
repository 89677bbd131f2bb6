import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelInferResponseMsg } from '../../src/api/grpc/proto.js';
import { grpcFrontEnd } from '../../src/api/grpc/server.js';
import type { Gateway } from '../../src/gateway.js';
import { binaryRequest, parseBinaryResponse } from '../helpers/binary-http.js';
import { featureRepository, startFeatureGateway } from '../helpers/feature-gateway.js';
import { patients } from '../helpers/features.js';
import { type GrpcClients, call, grpcClients, numbers, outputsOf, rawRequest, typedRequest } from '../helpers/grpc-client.js';
import { getJson, postJson } from '../helpers/gateway.js';

const all = patients();
const hundred = all.filter((_, i) => i % 5 === 2).slice(0, 100);
const V = '2';

let gw: Gateway;
let url: string;
let grpc: GrpcClients;
let repo: string;

beforeAll(async () => {
  // ttl 1d: the Oct-Nov 2026 rows are stale, so answers carry feature_warnings.
  repo = featureRepository({ ttl: '1d' });
  cpSync(join(repo, 'tabular_mlp'), join(repo, 'tabular_default'), { recursive: true });
  writeFileSync(join(repo, 'tabular_default', 'config.yaml'), 'max_batch_size: 64\nfeatures: {service: breast_cancer, entity_input: patient_id, input: features, on_missing: {default: 0.0}}\n');
  cpSync(join(repo, 'tabular_mlp'), join(repo, 'tabular_bad'), { recursive: true });
  writeFileSync(join(repo, 'tabular_bad', 'config.yaml'), 'features: {service: no_such_service, entity_input: patient_id, input: features}\n');
  ({ gw, url } = await startFeatureGateway(repo, [grpcFrontEnd]));
  grpc = grpcClients(gw.port('gRPC'));
});
afterAll(async () => {
  grpc?.close();
  await gw?.stop();
  rmSync(repo, { recursive: true, force: true });
});

const inferUrl = (model = 'tabular_mlp') => `${url}/v2/models/${model}/versions/${V}/infer`;
const byId = (ids: string[], extra: Record<string, unknown> = {}) => ({ inputs: [{ name: 'patient_id', datatype: 'BYTES', shape: [ids.length], data: ids }], ...extra });
const direct = (rows: number[][]) => ({ inputs: [{ name: 'features', datatype: 'FP32', shape: [rows.length, 30], data: rows.flat() }] });

function expectSame(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `${what}[${i}]`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(want[i]));
}

/** The answer with the CSV's features sent directly: the reference every fused answer must equal. */
async function reference(rows: number[][]): Promise<number[]> {
  const res = await postJson(inferUrl(), direct(rows));
  expect(res.status).toBe(200);
  return res.body.outputs[0].data;
}

describe('fused feature lookup in inference', () => {
  it('HTTP JSON: 100 patients by patient_id, one request each, equal sending their features', async () => {
    await Promise.all(hundred.map(async (p) => {
      const [want, got] = await Promise.all([reference([p.features]), postJson(inferUrl(), byId([p.patient_id]))]);
      expect(got.status, JSON.stringify(got.body)).toBe(200);
      expect(got.body.outputs[0].shape).toEqual([1, 2]);
      expectSame(got.body.outputs[0].data, want, p.patient_id);
    }));
  });

  it('HTTP JSON: batches of ids equal the batch of features; stale rows are served with feature_warnings', async () => {
    for (let i = 0; i < 100; i += 25) {
      const part = hundred.slice(i, i + 25);
      const res = await postJson(inferUrl(), byId(part.map((p) => p.patient_id), { id: `batch-${i}` }));
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(`batch-${i}`);
      expect(res.body.outputs[0].shape).toEqual([25, 2]);
      expectSame(res.body.outputs[0].data, await reference(part.map((p) => p.features)), `batch ${i}`);
      expect(res.body.parameters.feature_warnings).toMatch(/OUTSIDE_MAX_AGE.*patient_features \(ttl 86400s\) for patient_id/);
      expect(res.body.parameters.feature_warnings).toContain(part[0].patient_id);
    }
  });

  it('HTTP binary tensor data: ids as BYTES, outputs as binary, equal the features sent directly', async () => {
    const ids = hundred.slice(0, 40);
    const { body, headerLength } = binaryRequest([{ name: 'patient_id', datatype: 'BYTES', shape: [ids.length, 1], data: ids.map((p) => p.patient_id) }]);
    const res = await fetch(inferUrl(), { method: 'POST', body: new Uint8Array(body), headers: { 'Inference-Header-Content-Length': String(headerLength), 'content-type': 'application/octet-stream' } });
    expect(res.status).toBe(200);
    const buf = Buffer.from(await res.arrayBuffer());
    const { json, outputs } = parseBinaryResponse(buf, Number(res.headers.get('inference-header-content-length')));
    expect(json.outputs[0].shape).toEqual([40, 2]);
    expectSame(outputs.probabilities as ArrayLike<number>, await reference(ids.map((p) => p.features)), 'binary');
  });

  it('gRPC (raw and typed contents): 100 patients by id equal their features sent directly', async () => {
    for (const build of [rawRequest, typedRequest]) {
      for (let i = 0; i < 100; i += 50) {
        const part = hundred.slice(i, i + 50);
        const req = build('tabular_mlp', [{ name: 'patient_id', datatype: 'BYTES', shape: [part.length], data: part.map((p) => p.patient_id) }], { model_version: V });
        const res = await call<ModelInferResponseMsg>(grpc.inference, 'ModelInfer', req);
        const out = outputsOf(res).get('probabilities')!;
        expect(out.shape).toEqual([50, 2]);
        expectSame(numbers(out.data), await reference(part.map((p) => p.features)), `gRPC ${build.name} ${i}`);
        expect(res.parameters?.feature_warnings?.string_param).toMatch(/OUTSIDE_MAX_AGE/);
      }
    }
  });

  it('mixed batches: concurrent requests by id and by features, of different sizes, each get their own rows', async () => {
    const jobs = Array.from({ length: 48 }, (_, j) => {
      const size = 1 + (j % 5);
      const part = hundred.slice((j * 7) % 90, ((j * 7) % 90) + size);
      return { part, byIds: j % 2 === 0 };
    });
    const answers = await Promise.all(jobs.map((job) => postJson(inferUrl(), job.byIds ? byId(job.part.map((p) => p.patient_id)) : direct(job.part.map((p) => p.features)))));
    for (const [j, job] of jobs.entries()) {
      expect(answers[j].status).toBe(200);
      expectSame(answers[j].body.outputs[0].data, await reference(job.part.map((p) => p.features)), `job ${j}`);
    }
  });

  it('feeds the drift monitor the tensor the lookup built, not the ids the client sent', async () => {
    expect((await postJson(`${url}/v2/models/tabular_mlp/versions/${V}/drift/reset`, {})).status).toBe(200);
    const some = hundred.slice(0, 20);
    const res = await postJson(inferUrl(), byId(some.map((p) => p.patient_id)));
    expect(res.status).toBe(200);
    const drift = await getJson(`${url}/v2/models/tabular_mlp/versions/${V}/drift`);
    expect(drift.status).toBe(200);
    expect(drift.body.window_rows).toBe(20);
    expect(drift.body.features.map((f: { name: string }) => f.name)).toContain('mean_radius');
  });

  it('an unknown id is 404 naming it (HTTP) and NOT_FOUND (gRPC); nothing is inferred', async () => {
    const res = await postJson(inferUrl(), byId(['p000001', 'p999999', 'ghost']));
    expect(res.status).toBe(404);
    expect(res.body.error).toMatch(/unknown patient_id: p999999, ghost/);
    const req = rawRequest('tabular_mlp', [{ name: 'patient_id', datatype: 'BYTES', shape: [1], data: ['ghost'] }]);
    await expect(call(grpc.inference, 'ModelInfer', req, undefined, new Metadata())).rejects.toMatchObject({ code: 5, details: expect.stringMatching(/unknown patient_id: ghost/) });
  });

  it('on_missing: {default: 0.0} fills an unknown id with zeros', async () => {
    const res = await postJson(`${url}/v2/models/tabular_default/infer`, byId(['ghost', all[0].patient_id]));
    expect(res.status).toBe(200);
    const zeros = await postJson(`${url}/v2/models/tabular_default/infer`, direct([new Array(30).fill(0), all[0].features]));
    expectSame(res.body.outputs[0].data, zeros.body.outputs[0].data, 'default');
  });

  it('bad input to the fused path is 400 naming the input', async () => {
    const both = await postJson(inferUrl(), { inputs: [...byId(['p000001']).inputs, ...direct([all[1].features]).inputs] });
    expect(both.status).toBe(400);
    expect(both.body.error).toMatch(/either input 'patient_id'.*or input 'features'/);
    const wrongType = await postJson(inferUrl(), { inputs: [{ name: 'patient_id', datatype: 'INT64', shape: [1], data: [1] }] });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error).toMatch(/join key 'patient_id' is a String: send the ids as BYTES/);
    const wrongShape = await postJson(inferUrl(), { inputs: [{ name: 'patient_id', datatype: 'BYTES', shape: [1, 2], data: ['a', 'b'] }] });
    expect(wrongShape.status).toBe(400);
    expect(wrongShape.body.error).toMatch(/shape \[batch\] or \[batch, 1\]/);
  });

  it('a features: block naming an unknown service fails that model\'s load with the key named; the rest serve', async () => {
    const index = await postJson(`${url}/v2/repository/index`, {});
    // Its version policy loads the newest version only; the others are listed as unloaded.
    const bad = index.body.filter((e: { name: string; reason: string }) => e.name === 'tabular_bad' && e.reason !== 'unloaded');
    expect(bad.length).toBeGreaterThan(0);
    for (const e of bad) {
      expect(e.state).toBe('UNAVAILABLE');
      expect(e.reason).toMatch(/features\.service: unknown feature service 'no_such_service'/);
    }
    const simple = await postJson(`${url}/v2/models/simple/infer`, { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(1) }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(2) }] });
    expect(simple.status).toBe(200);
  });

  it('counts stale rows per view in the metrics', async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${gw.port('Metrics')}/metrics`)).text();
    expect(Number(/infergate_feature_outside_max_age_total\{view="patient_features"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(100);
    expect(Number(/infergate_feature_cache_hits_total (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
  });
});
