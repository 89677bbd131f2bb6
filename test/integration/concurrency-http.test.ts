import { describe, expect, it } from 'vitest';
import { getJson, postJson, sharedGateway } from '../helpers/gateway.js';

const ctx = sharedGateway();

/** Deterministic pseudo-random numbers so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function simpleRequest(rows: number, r: () => number) {
  const a = Array.from({ length: rows * 16 }, () => Math.floor(r() * 2000) - 1000);
  const b = Array.from({ length: rows * 16 }, () => Math.floor(r() * 2000) - 1000);
  return {
    body: { inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [rows, 16], data: a },
      { name: 'INPUT1', datatype: 'INT32', shape: [rows, 16], data: b },
    ] },
    sum: a.map((x, i) => x + b[i]),
    diff: a.map((x, i) => x - b[i]),
  };
}

async function batchStats(model: string, version: string) {
  const s = await getJson(`${ctx.url}/v2/models/${model}/versions/${version}/stats`);
  return s.body.model_stats[0];
}

describe('dynamic batching under concurrency', () => {
  it('200 concurrent mixed-size requests each get exactly their own rows, in batches > 1', async () => {
    const r = rng(42);
    // tabular_mlp expectations come from running each distinct row alone first.
    const patients = Array.from({ length: 24 }, () => Array.from({ length: 30 }, () => r() * 100));
    const alone = await Promise.all(
      patients.map(async (p) => {
        const res = await postJson(`${ctx.url}/v2/models/tabular_mlp/versions/1/infer`, {
          inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: p }],
        });
        expect(res.status).toBe(200);
        return res.body.outputs[0].data as number[];
      }),
    );
    const before = { simple: await batchStats('simple', '1'), mlp: await batchStats('tabular_mlp', '1') };

    const jobs = Array.from({ length: 200 }, async (_, i) => {
      const rows = 1 + Math.floor(r() * 8);
      if (i % 2 === 0) {
        const q = simpleRequest(rows, r);
        const res = await postJson(`${ctx.url}/v2/models/simple/infer`, { id: `s${i}`, ...q.body });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.id).toBe(`s${i}`);
        const out0 = res.body.outputs.find((o: { name: string }) => o.name === 'OUTPUT0');
        const out1 = res.body.outputs.find((o: { name: string }) => o.name === 'OUTPUT1');
        expect(out0.shape).toEqual([rows, 16]);
        expect(out0.data).toEqual(q.sum);
        expect(out1.data).toEqual(q.diff);
      } else {
        const picks = Array.from({ length: rows }, () => Math.floor(r() * patients.length));
        const res = await postJson(`${ctx.url}/v2/models/tabular_mlp/versions/1/infer`, {
          id: `t${i}`,
          inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 30], data: picks.flatMap((p) => patients[p]) }],
        });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.outputs[0].shape).toEqual([rows, 2]);
        const got = res.body.outputs[0].data as number[];
        picks.forEach((p, row) => {
          expect(got[row * 2]).toBeCloseTo(alone[p][0], 5);
          expect(got[row * 2 + 1]).toBeCloseTo(alone[p][1], 5);
        });
      }
    });
    await Promise.all(jobs);

    const after = { simple: await batchStats('simple', '1'), mlp: await batchStats('tabular_mlp', '1') };
    for (const k of ['simple', 'mlp'] as const) {
      const requests = after[k].inference_stats.success.count - before[k].inference_stats.success.count;
      const executions = after[k].execution_count - before[k].execution_count;
      expect(requests).toBe(100);
      // Fewer executions than requests means requests shared batches.
      expect(executions).toBeLessThan(requests);
    }
    const metrics = await ctx.gw.metrics.registry.getSingleMetricAsString('infergate_batch_size');
    const le1 = /infergate_batch_size_bucket\{le="1",model="simple",version="1"\} (\d+)/.exec(metrics);
    const count = /infergate_batch_size_count\{model="simple",version="1"\} (\d+)/.exec(metrics);
    expect(le1 && count).toBeTruthy();
    // Batches of more than one row exist in the histogram.
    expect(Number(count![1])).toBeGreaterThan(Number(le1![1]));
    const multiRequest = after.simple.batch_stats.filter((b: { batch_size: number }) => b.batch_size > 8);
    expect(multiRequest.length).toBeGreaterThan(0);
  });
});
