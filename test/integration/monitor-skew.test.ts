import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcFrontEnd } from '../../src/api/grpc/server.js';
import type { Gateway } from '../../src/gateway.js';
import { binaryRequest } from '../helpers/binary-http.js';
import { DATA_MISSING } from '../helpers/drift-fixture.js';
import { getJson, postJson, startGateway } from '../helpers/gateway.js';
import { call, grpcClients, type GrpcClients, rawRequest, typedRequest } from '../helpers/grpc-client.js';
import { BC_COLUMNS, type ChurnRows, type TabularRows, churnRows, inferTabularJson, monitoredRepository, tabularMonitoring, tabularRows } from '../helpers/monitoring.js';

const col = (name: string) => BC_COLUMNS.indexOf(name);

/** A tabular row sent as binary tensor data (the only HTTP form that carries NaN). */
async function binaryRow(url: string, row: number[]): Promise<{ status: number; body: string }> {
  const { body, headerLength } = binaryRequest([{ name: 'features', datatype: 'FP32', shape: [1, 30], data: row }], {});
  const res = await fetch(`${url}/v2/models/tabular_mlp/versions/1/infer`, {
    method: 'POST', headers: { 'inference-header-content-length': String(headerLength) }, body: new Uint8Array(body),
  });
  return { status: res.status, body: await res.text() };
}

function churnRequest(plan: string[], usage: number[][]) {
  return {
    inputs: [
      { name: 'plan', datatype: 'BYTES', shape: [plan.length, 1], data: plan },
      { name: 'usage', datatype: 'FP32', shape: [plan.length, 3], data: usage.flat() },
    ],
  };
}

async function metrics(gw: Gateway): Promise<string> {
  return (await fetch(`http://127.0.0.1:${gw.port('Metrics')}/metrics`)).text();
}

function skewCount(text: string, model: string, version: string, feature: string, kind: string): number {
  const m = new RegExp(`infergate_skew_violations_total\\{model="${model}",version="${version}",feature="${feature}",kind="${kind}"\\} (\\S+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

describe.skipIf(DATA_MISSING !== undefined)(`skew checks: reject and warn before compute${DATA_MISSING ? ` (SKIPPED: ${DATA_MISSING})` : ''}`, () => {
  let gw: Gateway;
  let url: string;
  let grpc: GrpcClients;
  let rows: TabularRows;
  let churn: ChurnRows;

  beforeAll(async () => {
    rows = tabularRows('breast_cancer_live_nodrift.csv');
    churn = churnRows('churn_live_nodrift.csv');
    const repo = monitoredRepository({
      tabular_mlp: { reference: 'breast_cancer_reference.csv', monitoring: tabularMonitoring('skew: reject\nskew_margin: 0.1') },
      churn_pipeline: { reference: 'churn_reference.csv', monitoring: 'reference: reference.csv\ncheck_interval_seconds: 0\nskew: warn' },
    });
    ({ gw, url } = await startGateway({ modelRepository: repo }, [grpcFrontEnd]));
    grpc = grpcClients(gw.port('gRPC'));
  });
  afterAll(async () => {
    grpc?.close();
    await gw?.stop();
  });

  it('reject: an in-range row passes; an out-of-range or missing value gets 400 naming the feature and value', async () => {
    expect((await inferTabularJson(url, '1', [rows.features[0]])).status).toBe(200);
    const far = [...rows.features[0]];
    far[col('mean_radius')] = 1000000;
    const res = await inferTabularJson(url, '1', [rows.features[1], far]);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/skew check \(monitoring\.skew: reject\)/);
    expect(res.body.error).toMatch(/row 1 feature 'mean_radius': value 1000000 is out of range/);
    const nan = [...rows.features[0]];
    nan[col('worst_area')] = NaN;
    const missing = await binaryRow(url, nan);
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body).error).toMatch(/feature 'worst_area': value is missing \(NaN\)/);
    // Refused requests never reach the model nor the window.
    expect((await getJson(`${url}/v2/models/tabular_mlp/versions/1/drift`)).body.window_rows).toBe(1);
  });

  it('reject over gRPC: INVALID_ARGUMENT naming the feature', async () => {
    const far = [...rows.features[2]];
    far[col('mean_radius')] = -50;
    const err = await call(grpc.inference, 'ModelInfer', rawRequest('tabular_mlp', [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: far }], { model_version: '1' })).catch((e) => e);
    expect(err.code).toBe(3);
    expect(err.details).toMatch(/feature 'mean_radius': value -50 is out of range/);
  });

  it('warn: the answer comes back with skew_warnings naming each feature, over HTTP and gRPC', async () => {
    const ok = await postJson(`${url}/v2/models/churn_pipeline/infer`, churnRequest([churn.plan[0]], [churn.usage[0]]));
    expect(ok.status).toBe(200);
    expect(ok.body.parameters).toBeUndefined();
    const res = await postJson(`${url}/v2/models/churn_pipeline/infer`, churnRequest(['basic', 'gold', ''], [churn.usage[0], churn.usage[1], [10000, 1, 1]]));
    expect(res.status).toBe(200);
    expect(res.body.outputs[0].shape).toEqual([3, 1]);
    const w: string = res.body.parameters.skew_warnings;
    expect(w).toMatch(/row 1 feature 'plan': value "gold" never occurs in the reference/);
    expect(w).toMatch(/row 2 feature 'plan': value is missing \(""\)/);
    expect(w).toMatch(/row 2 feature 'usage_1': value 10000 is out of range/);
    const g = await call<any>(grpc.inference, 'ModelInfer', typedRequest('churn_pipeline', [
      { name: 'plan', datatype: 'BYTES', shape: [1, 1], data: ['platinum'] },
      { name: 'usage', datatype: 'FP32', shape: [1, 3], data: churn.usage[0] },
    ]));
    expect(g.parameters.skew_warnings.string_param).toMatch(/feature 'plan': value "platinum" never occurs/);
  });

  it('counts every violation by model, version, feature and kind', async () => {
    const text = await metrics(gw);
    expect(skewCount(text, 'tabular_mlp', '1', 'mean_radius', 'out_of_range')).toBe(2);
    expect(skewCount(text, 'tabular_mlp', '1', 'worst_area', 'missing')).toBe(1);
    expect(skewCount(text, 'churn_pipeline', '1', 'plan', 'unseen_category')).toBe(2);
    expect(skewCount(text, 'churn_pipeline', '1', 'plan', 'missing')).toBe(1);
    expect(skewCount(text, 'churn_pipeline', '1', 'usage_1', 'out_of_range')).toBe(1);
    expect(skewCount(text, 'churn_pipeline', '1', 'usage_2', 'out_of_range')).toBe(0);
  });
});

describe.skipIf(DATA_MISSING !== undefined)(`skew checks counted on observed rows (default skew: count), sampling, unload${DATA_MISSING ? ` (SKIPPED: ${DATA_MISSING})` : ''}`, () => {
  let gw: Gateway;
  let url: string;
  beforeAll(async () => {
    const repo = monitoredRepository({
      tabular_mlp: { reference: 'breast_cancer_reference.csv', monitoring: tabularMonitoring() },
      churn_pipeline: { reference: 'churn_reference.csv', monitoring: 'reference: reference.csv\ncheck_interval_seconds: 0\nsample_rate: 0.5' },
    });
    ({ gw, url } = await startGateway({ modelRepository: repo, modelControlMode: 'explicit', loadModels: ['*'] }));
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('NaN, an out-of-range value and an unseen plan are each counted with their kind; answers are unchanged', async () => {
    const rows = tabularRows('breast_cancer_live_nodrift.csv');
    const nan = [...rows.features[0]];
    nan[col('mean_texture')] = NaN;
    nan[col('worst_radius')] = 99999;
    const r = await binaryRow(url, nan);
    expect(r.status).toBe(200);
    const churn = churnRows('churn_live_nodrift.csv');
    // sample_rate 0.5: every second request is observed (the first is not).
    for (let i = 0; i < 2; i++) {
      const c = await postJson(`${url}/v2/models/churn_pipeline/infer`, churnRequest(['gold'], [churn.usage[0]]));
      expect(c.status).toBe(200);
      expect(c.body.parameters).toBeUndefined();
    }
    const text = await metrics(gw);
    expect(skewCount(text, 'tabular_mlp', '1', 'mean_texture', 'missing')).toBe(1);
    expect(skewCount(text, 'tabular_mlp', '1', 'worst_radius', 'out_of_range')).toBe(1);
    expect(skewCount(text, 'tabular_mlp', '1', 'mean_radius', 'out_of_range')).toBe(0);
    expect(skewCount(text, 'churn_pipeline', '1', 'plan', 'unseen_category')).toBe(1);
    // The drift test drops the NaN, as Evidently does.
    const drift = (await getJson(`${url}/v2/models/tabular_mlp/versions/1/drift`)).body;
    expect(drift.window_rows).toBe(1);
    expect(drift.features.find((f: any) => f.name === 'mean_texture').live_values).toBe(0);
    expect(drift.features.find((f: any) => f.name === 'mean_radius').live_values).toBe(1);
    for (let i = 0; i < 8; i++) await postJson(`${url}/v2/models/churn_pipeline/infer`, churnRequest([churn.plan[i]], [churn.usage[i]]));
    expect((await getJson(`${url}/v2/models/churn_pipeline/drift`)).body.window_rows).toBe(5);
  });

  it('unloading a version frees its monitor; loading it again starts an empty window', async () => {
    expect((await postJson(`${url}/v2/repository/models/churn_pipeline/unload`, {})).status).toBe(200);
    expect(gw.monitor.ofModel('churn_pipeline')).toEqual([]);
    expect((await getJson(`${url}/v2/models/churn_pipeline/drift`)).status).toBe(404);
    expect(skewCount(await metrics(gw), 'churn_pipeline', '1', 'plan', 'unseen_category')).toBe(0);
    expect((await postJson(`${url}/v2/repository/models/churn_pipeline/load`, {})).status).toBe(200);
    expect((await getJson(`${url}/v2/models/churn_pipeline/drift`)).body.window_rows).toBe(0);
    expect(gw.monitor.ofModel('tabular_mlp')).toHaveLength(3);
  });
});
