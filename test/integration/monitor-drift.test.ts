import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcFrontEnd } from '../../src/api/grpc/server.js';
import type { Gateway } from '../../src/gateway.js';
import { DATA_MISSING, type FixtureScenario, driftFixture, expectClose, expectScenario } from '../helpers/drift-fixture.js';
import { getJson, postJson, startGateway } from '../helpers/gateway.js';
import { call, grpcClients, type GrpcClients, rawRequest } from '../helpers/grpc-client.js';
import {
  type ChurnRows, type TabularRows, churnRows, inferChurnJson, inferTabularBinary, inferTabularJson, mixedBatches,
  monitoredRepository, tabularMonitoring, tabularRows,
} from '../helpers/monitoring.js';
import { BROWSER_MISSING, launchChromium } from '../helpers/browser.js';

const S: Record<string, FixtureScenario> = driftFixture.scenarios;

const drifted = (body: any): string[] => body.features.filter((f: any) => f.drift_detected).map((f: any) => f.name).sort();

describe.skipIf(DATA_MISSING !== undefined)(`drift monitor over HTTP JSON, HTTP binary and gRPC${DATA_MISSING ? ` (SKIPPED: ${DATA_MISSING})` : ''}`, () => {
  let gw: Gateway;
  let url: string;
  let grpc: GrpcClients;
  let nodrift: TabularRows;
  let drift: TabularRows;
  let churnNo: ChurnRows;
  let churnDrift: ChurnRows;
  const drift$ = (version?: string) => getJson(`${url}/v2/models/tabular_mlp${version ? `/versions/${version}` : ''}/drift`);
  const reset = (model: string, version?: string) => postJson(`${url}/v2/models/${model}${version ? `/versions/${version}` : ''}/drift/reset`, {});

  beforeAll(async () => {
    nodrift = tabularRows('breast_cancer_live_nodrift.csv');
    drift = tabularRows('breast_cancer_live_drift.csv');
    churnNo = churnRows('churn_live_nodrift.csv');
    churnDrift = churnRows('churn_live_drift.csv');
    const repo = monitoredRepository({
      tabular_mlp: { reference: 'breast_cancer_reference.csv', monitoring: tabularMonitoring() },
      // churn_pipeline's inputs plan and usage find their columns by the default names (plan, usage_1..3).
      churn_pipeline: { reference: 'churn_reference.csv', monitoring: 'reference: reference.csv\ncheck_interval_seconds: 0' },
      simple: {},
    });
    ({ gw, url } = await startGateway({ modelRepository: repo }, [grpcFrontEnd]));
    grpc = grpcClients(gw.port('gRPC'));
  });
  afterAll(async () => {
    grpc?.close();
    await gw?.stop();
  });

  it('v1 over HTTP JSON, row by row: no feature drifts, every figure equals scipy', async () => {
    for (let i = 0; i < nodrift.features.length; i++) expect((await inferTabularJson(url, '1', [nodrift.features[i]])).status).toBe(200);
    const { status, body } = await drift$('1');
    expect(status).toBe(200);
    expect(body.model_name).toBe('tabular_mlp');
    expect(body.model_version).toBe('1');
    expect(drifted(body)).toEqual([]);
    expectScenario(body, S.tabular_nodrift, 'nodrift row by row');
  });

  it('v1 after reset, in mixed batches: still no drift, the same figures', async () => {
    expect((await reset('tabular_mlp', '1')).body.window_rows).toBe(0);
    expect((await drift$('1')).body.window_rows).toBe(0);
    for (const [a, b] of mixedBatches(nodrift.features.length)) {
      expect((await inferTabularJson(url, '1', nodrift.features.slice(a, b))).status).toBe(200);
    }
    expectScenario((await drift$('1')).body, S.tabular_nodrift, 'nodrift mixed batches');
  });

  it('v1 after reset, the drifted file: exactly mean_radius, worst_area and mean_smoothness', async () => {
    await reset('tabular_mlp', '1');
    for (const [a, b] of mixedBatches(drift.features.length)) await inferTabularJson(url, '1', drift.features.slice(a, b));
    const { body } = await drift$('1');
    expect(drifted(body)).toEqual(['mean_radius', 'mean_smoothness', 'worst_area']);
    expect(body.dataset_drift).toBe(false);
    expectScenario(body, S.tabular_drift, 'drift');
    const mr = body.features.find((f: any) => f.name === 'mean_radius');
    expect(mr.p_value).toBeLessThan(1e-40);
    expect(mr.live_values).toBe(143);
  });

  it('v2 over HTTP binary tensors: its own window, the same figures as scipy', async () => {
    for (const [a, b] of mixedBatches(nodrift.features.length)) expect(await inferTabularBinary(url, '2', nodrift.features.slice(a, b))).toBe(200);
    expectScenario((await drift$('2')).body, S.tabular_nodrift, 'binary v2');
  });

  it('v3 over gRPC (raw and typed contents): its own window, the drift figures', async () => {
    const tensor = (rows: number[][]) => ({ name: 'features', datatype: 'FP32', shape: [rows.length, 30], data: rows.flat() });
    for (const [a, b] of mixedBatches(drift.features.length)) {
      await call(grpc.inference, 'ModelInfer', rawRequest('tabular_mlp', [tensor(drift.features.slice(a, b))], { model_version: '3' }));
    }
    const { body } = await drift$('3');
    expect(drifted(body)).toEqual(['mean_radius', 'mean_smoothness', 'worst_area']);
    expectScenario(body, S.tabular_drift, 'grpc v3');
  });

  it('every version keeps its own window; the unversioned path is the default (newest) version', async () => {
    expect(drifted((await drift$('1')).body)).toEqual(['mean_radius', 'mean_smoothness', 'worst_area']);
    expect(drifted((await drift$('2')).body)).toEqual([]);
    const latest = (await drift$()).body;
    expect(latest.model_version).toBe('3');
    expect(latest.window_rows).toBe(143);
    await reset('tabular_mlp', '2');
    expect((await drift$('2')).body.window_rows).toBe(0);
    expect((await drift$('1')).body.window_rows).toBe(143);
    expect((await drift$('3')).body.window_rows).toBe(143);
  });

  it('Prometheus metrics carry the verdicts per version and feature', async () => {
    const text = await (await fetch(`http://127.0.0.1:${gw.port('Metrics')}/metrics`)).text();
    expect(text).toMatch(/infergate_feature_drift_detected\{model="tabular_mlp",version="1",feature="mean_radius",stattest="ks"\} 1/);
    expect(text).toMatch(/infergate_feature_drift_detected\{model="tabular_mlp",version="1",feature="mean_texture",stattest="ks"\} 0/);
    expect(text).toMatch(/infergate_dataset_drift\{model="tabular_mlp",version="1"\} 0/);
    const score = /infergate_feature_drift_score\{model="tabular_mlp",version="1",feature="mean_radius",stattest="ks"\} (\S+)/.exec(text);
    expectClose(Number(score?.[1]), S.tabular_drift.features.find((f) => f.name === 'mean_radius')!.p_value, 'metric score');
    // v2 was reset: no verdict series for an empty window.
    expect(text).not.toMatch(/infergate_feature_drift_detected\{model="tabular_mlp",version="2"/);
    expect(text).toMatch(/infergate_drift_window_rows\{model="tabular_mlp",version="2"\} 0/);
  });

  it('churn_pipeline (2,000 reference rows): Jensen-Shannon for plan, normed Wasserstein for usage; only plan drifts', async () => {
    for (const [a, b] of mixedBatches(churnNo.plan.length)) expect((await inferChurnJson(url, churnNo, a, b)).status).toBe(200);
    const none = (await getJson(`${url}/v2/models/churn_pipeline/drift`)).body;
    expect(drifted(none)).toEqual([]);
    expect(none.features.map((f: any) => [f.name, f.stattest])).toEqual([['plan', 'jensenshannon'], ['usage_1', 'wasserstein'], ['usage_2', 'wasserstein'], ['usage_3', 'wasserstein']]);
    expect(none.features.every((f: any) => f.p_value === null)).toBe(true);
    expectScenario(none, S.churn_nodrift, 'churn nodrift');
    await reset('churn_pipeline');
    for (const [a, b] of mixedBatches(churnDrift.plan.length)) await inferChurnJson(url, churnDrift, a, b);
    const some = (await getJson(`${url}/v2/models/churn_pipeline/versions/1/drift`)).body;
    expect(drifted(some)).toEqual(['plan']);
    expectScenario(some, S.churn_drift, 'churn drift');
  });

  it('answers 404 for an unknown model or version, 400 for a model without monitoring, as JSON errors', async () => {
    const unknown = await getJson(`${url}/v2/models/nope/drift`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/nope/);
    expect((await getJson(`${url}/v2/models/tabular_mlp/versions/9/drift`)).status).toBe(404);
    expect((await postJson(`${url}/v2/models/nope/drift/reset`, {})).status).toBe(404);
    const plain = await getJson(`${url}/v2/models/simple/drift`);
    expect(plain.status).toBe(400);
    expect(plain.body.error).toMatch(/simple.*not monitored.*monitoring/);
    expect((await getJson(`${url}/v2/models/simple/performance`)).status).toBe(400);
    expect((await fetch(`${url}/v2/models/simple/drift/report`)).status).toBe(400);
  });

  it.skipIf(BROWSER_MISSING !== undefined)(
    BROWSER_MISSING ? `HTML report renders in headless Chromium (SKIPPED: ${BROWSER_MISSING})` : 'the HTML report renders in headless Chromium: every feature overlaid, drifted ones first',
    async () => {
      const res = await fetch(`${url}/v2/models/tabular_mlp/versions/1/drift/report`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      const html = await res.text();
      expect(html).not.toMatch(/(src|href)=["']?https?:/);
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        const requests: string[] = [];
        page.on('request', (r) => requests.push(r.url()));
        await page.goto(`${url}/v2/models/tabular_mlp/versions/1/drift/report`);
        const names = await page.locator('section.feature').evaluateAll((els) => els.map((e) => [e.getAttribute('data-feature'), e.classList.contains('drifted')]));
        expect(names).toHaveLength(30);
        expect(names.slice(0, 3).map((n) => n[1])).toEqual([true, true, true]);
        expect(names.slice(0, 3).map((n) => n[0]).sort()).toEqual(['mean_radius', 'mean_smoothness', 'worst_area']);
        expect(names.slice(3).every((n) => n[1] === false)).toBe(true);
        // Both distributions are drawn for every feature, with a size on the page.
        expect(await page.locator('svg.histogram').count()).toBe(30);
        expect(await page.locator('section.feature').first().locator('rect.bar-ref').count()).toBeGreaterThan(1);
        expect(await page.locator('section.feature').first().locator('rect.bar-live').count()).toBeGreaterThan(1);
        const box = await page.locator('svg.histogram').first().boundingBox();
        expect(box?.width).toBeGreaterThan(100);
        expect(await page.locator('#summary').innerText()).toMatch(/3 of 30 features drifted/);
        expect(requests.filter((u) => !u.startsWith(url))).toEqual([]);
      } finally {
        await browser.close();
      }
    },
  );
});
