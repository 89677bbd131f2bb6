import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { DATA_MISSING } from '../helpers/drift-fixture.js';
import { getJson, postJson, startGateway } from '../helpers/gateway.js';
import { type ChurnRows, type TabularRows, churnRows, inferChurnJson, inferTabularJson, mixedBatches, monitoredRepository, tabularMonitoring, tabularRows } from '../helpers/monitoring.js';

/** Sends the rows as mixed batches with one id per request; returns what each request carried and answered. */
async function sendWithIds(url: string, version: string | undefined, rows: TabularRows, prefix: string) {
  const sent: { id: string; from: number; to: number; probs: number[][] }[] = [];
  for (const [a, b] of mixedBatches(rows.features.length)) {
    const id = b - a === 1 ? `${prefix}${rows.ids[a]}` : `${prefix}batch-${a}`;
    const res = await inferTabularJson(url, version, rows.features.slice(a, b), id);
    expect(res.status).toBe(200);
    const flat: number[] = res.body.outputs[0].data;
    sent.push({ id, from: a, to: b, probs: Array.from({ length: b - a }, (_, i) => flat.slice(2 * i, 2 * i + 2)) });
  }
  return sent;
}

/** Labels in the shape the requests had: one label for a single row, a list for a batch. */
function labelsFor(sent: { id: string; from: number; to: number }[], labels: number[]) {
  return sent.map((s) => ({ id: s.id, label: s.to - s.from === 1 ? labels[s.from] : labels.slice(s.from, s.to) }));
}

describe.skipIf(DATA_MISSING !== undefined)(`label feedback and realised performance${DATA_MISSING ? ` (SKIPPED: ${DATA_MISSING})` : ''}`, () => {
  let gw: Gateway;
  let url: string;
  let rows: TabularRows;
  let churn: ChurnRows;
  let v1: Awaited<ReturnType<typeof sendWithIds>>;
  const perf = (version?: string) => getJson(`${url}/v2/models/tabular_mlp${version ? `/versions/${version}` : ''}/performance`);
  const feedback = (body: unknown, version?: string) => postJson(`${url}/v2/models/tabular_mlp${version ? `/versions/${version}` : ''}/feedback`, body);

  beforeAll(async () => {
    rows = tabularRows('breast_cancer_live_nodrift.csv');
    churn = churnRows('churn_live_nodrift.csv');
    const repo = monitoredRepository({
      tabular_mlp: {
        reference: 'breast_cancer_reference.csv',
        monitoring: tabularMonitoring('prediction: {output: probabilities, task: classification}\nfeedback: {max_rows: 200}'),
      },
      churn_pipeline: { reference: 'churn_reference.csv', monitoring: 'reference: reference.csv\ncheck_interval_seconds: 0\nfeedback: {max_age_seconds: 0.3}' },
    });
    ({ gw, url } = await startGateway({ modelRepository: repo }));
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('estimates accuracy from the probabilities before any label arrives', async () => {
    v1 = await sendWithIds(url, '1', rows, '');
    const { status, body } = await perf('1');
    expect(status).toBe(200);
    expect(body).toMatchObject({ model_name: 'tabular_mlp', model_version: '1', task: 'classification', labelled_rows: 0, accuracy: null, roc_auc: null, estimated_rows: 143 });
    // CBPE's confidence estimate: the mean top-class probability of the answers the client got.
    const tops = v1.flatMap((s) => s.probs.map((p) => Math.max(p[0], p[1])));
    const mean = tops.reduce((a, b) => a + b, 0) / tops.length;
    expect(Math.abs(body.estimated_accuracy - mean)).toBeLessThan(1e-6);
  });

  it('joins labels by request id (one per row, a list for a batch): v1 accuracy is exactly 139/143', async () => {
    const entries = labelsFor(v1, rows.labels);
    const { status, body } = await feedback({ labels: [...entries, { id: 'never-sent', label: 1 }] });
    expect(status).toBe(200);
    expect(body).toMatchObject({ joined: entries.length, joined_rows: 143, unknown: 1, unknown_ids: ['never-sent'] });
    const p = (await perf('1')).body;
    expect(p.labelled_rows).toBe(143);
    expect(p.accuracy).toBe(139 / 143);
    // MODELS.md: held-out ROC AUC 0.9904 (4 decimals).
    expect(Math.abs(p.roc_auc - 0.9904)).toBeLessThanOrEqual(5e-5);
    // Precision and recall for class 1 (malignant) from the answers the client saw.
    const pred = v1.flatMap((s) => s.probs.map((q) => (q[1] > q[0] ? 1 : 0)));
    const tp = pred.filter((x, i) => x === 1 && rows.labels[i] === 1).length;
    expect(p.precision).toBeCloseTo(tp / pred.filter((x) => x === 1).length, 12);
    expect(p.recall).toBeCloseTo(tp / rows.labels.filter((x) => x === 1).length, 12);
    const text = await (await fetch(`http://127.0.0.1:${gw.port('Metrics')}/metrics`)).text();
    expect(text).toMatch(new RegExp(`infergate_model_accuracy\\{model="tabular_mlp",version="1"\\} ${139 / 143}`));
    expect(text).toMatch(/infergate_model_estimated_accuracy\{model="tabular_mlp",version="1"\} 0\.9/);
    expect(text).toMatch(/infergate_feedback_unknown_ids_total\{model="tabular_mlp"\} 1/);
  });

  it('v3 (the bad model) with the same ids on its versioned path: exactly 89/143, v1 untouched', async () => {
    const v3 = await sendWithIds(url, '3', rows, '');
    const { body } = await feedback({ labels: labelsFor(v3, rows.labels) }, '3');
    expect(body.joined_rows).toBe(143);
    expect((await perf('3')).body.accuracy).toBe(89 / 143);
    expect((await perf('1')).body.accuracy).toBe(139 / 143);
    expect((await perf('2')).body.labelled_rows).toBe(0);
  });

  it('a bad entry fails the whole call with the field named, and writes nothing', async () => {
    const before = (await perf('1')).body;
    const batch = v1.find((s) => s.to - s.from > 1)!;
    const wrongCount = await feedback({ labels: [{ id: v1[0].id, label: 0 }, { id: batch.id, label: [1] }] }, '1');
    expect(wrongCount.status).toBe(400);
    expect(wrongCount.body.error).toMatch(new RegExp(`labels\\[1\\]\\.label: request '${batch.id}' had ${batch.to - batch.from} rows`));
    const singles = v1.filter((s) => s.to - s.from === 1);
    const badClass = await feedback({ labels: [{ id: singles[0].id, label: 1 - rows.labels[singles[0].from] }, { id: singles[1].id, label: 2 }] }, '1');
    expect(badClass.status).toBe(400);
    expect(badClass.body.error).toMatch(/labels\[1\]\.label: must be a class index 0\.\.1/);
    expect((await perf('1')).body).toEqual(before);
    expect((await feedback({ id: 'x' })).body.error).toMatch(/feedback\.label: required/);
    expect((await feedback({ labels: [] })).status).toBe(400);
    expect((await feedback({ id: 'x', label: 1, extra: true })).body.error).toMatch(/unknown field 'extra'/);
    expect((await postJson(`${url}/v2/models/nope/feedback`, { id: 'x', label: 1 })).status).toBe(404);
  });

  it('the unversioned path joins a label to whichever version served the request', async () => {
    const res = await inferTabularJson(url, undefined, [rows.features[0]], 'served-by-default');
    expect(res.body.model_version).toBe('3');
    const { body } = await feedback({ id: 'served-by-default', label: rows.labels[0] });
    expect(body).toMatchObject({ joined: 1, joined_rows: 1, unknown: 0 });
    expect((await perf('3')).body.labelled_rows).toBe(144);
  });

  it('keeps predictions for a bounded count (feedback.max_rows) and time (feedback.max_age_seconds)', async () => {
    // 200 rows are kept on v1: 60 more push out the oldest ones.
    for (let i = 0; i < 60; i++) await inferTabularJson(url, '1', [rows.features[i]], `later-${i}`);
    const oldest = await feedback({ id: v1[0].id, label: rows.labels[0] }, '1');
    expect(oldest.body).toMatchObject({ joined: 0, unknown: 1 });
    expect((await feedback({ id: 'later-59', label: 1 }, '1')).body.joined).toBe(1);
    // churn_pipeline keeps predictions 0.3 s.
    const send = (id: string) => postJson(`${url}/v2/models/churn_pipeline/infer`, {
      id, inputs: [{ name: 'plan', datatype: 'BYTES', shape: [1, 1], data: [churn.plan[0]] }, { name: 'usage', datatype: 'FP32', shape: [1, 3], data: churn.usage[0] }],
    });
    await send('fresh');
    expect((await postJson(`${url}/v2/models/churn_pipeline/feedback`, { id: 'fresh', label: 0 })).body.joined).toBe(1);
    await send('stale');
    await new Promise((r) => setTimeout(r, 600));
    expect((await postJson(`${url}/v2/models/churn_pipeline/feedback`, { id: 'stale', label: 0 })).body).toMatchObject({ joined: 0, unknown: 1 });
    expect((await inferChurnJson(url, churn, 0, 2)).status).toBe(200);
  });
});
