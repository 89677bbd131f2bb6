import { describe, expect, it } from 'vitest';
import type { ModelInferResponseMsg } from '../../src/api/grpc/proto.js';
import type { ModelStatsJson } from '../../src/core/stats.js';
import { sharedGrpcGateway, call, grpcClients, numbers, outputsOf, rawRequest, typedRequest } from '../helpers/grpc-client.js';

const ctx = sharedGrpcGateway();

/** Deterministic pseudo-random features for row r. */
const featureRow = (r: number) => Array.from({ length: 30 }, (_, k) => Math.sin(r * 31 + k) * 2);

const infer = (req: unknown) => call<ModelInferResponseMsg>(ctx.clients.inference, 'ModelInfer', req);

describe('concurrency mix over gRPC', () => {
  it('200 concurrent requests of 1-8 rows to tabular_mlp and simple each get exactly their own answer, in shared batches', async () => {
    // Reference: every tabular_mlp row run alone at batch 1 (version 1 explicitly, so the reference and the mix agree).
    const ROWS = 40;
    const reference = await Promise.all(
      Array.from({ length: ROWS }, async (_, r) => {
        const res = await infer(rawRequest('tabular_mlp', [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: featureRow(r) }], { model_version: '1' }));
        return numbers(outputsOf(res).get('probabilities')!.data);
      }),
    );
    const before = (await call<{ model_stats: ModelStatsJson[] }>(ctx.clients.inference, 'ModelStatistics', { name: 'tabular_mlp', version: '1' })).model_stats[0];

    const jobs = Array.from({ length: 200 }, async (_, i) => {
      const rows = 1 + (i % 8);
      const build = i % 3 === 0 ? typedRequest : rawRequest;
      if (i % 2 === 0) {
        const a = Array.from({ length: rows * 16 }, (_, k) => (i * 1000 + k * 17) % 50_000);
        const b = Array.from({ length: rows * 16 }, (_, k) => (i * 7 + k * 3) % 20_000);
        const res = await infer(build('simple', [
          { name: 'INPUT0', datatype: 'INT32', shape: [rows, 16], data: a },
          { name: 'INPUT1', datatype: 'INT32', shape: [rows, 16], data: b },
        ], { id: `s${i}` }));
        expect(res.id).toBe(`s${i}`);
        const outs = outputsOf(res);
        expect(outs.get('OUTPUT0')!.shape).toEqual([rows, 16]);
        expect(numbers(outs.get('OUTPUT0')!.data)).toEqual(a.map((x, k) => x + b[k]));
        expect(numbers(outs.get('OUTPUT1')!.data)).toEqual(a.map((x, k) => x - b[k]));
      } else {
        const rowIds = Array.from({ length: rows }, (_, k) => (i * 5 + k) % ROWS);
        const res = await infer(build('tabular_mlp', [{ name: 'features', datatype: 'FP32', shape: [rows, 30], data: rowIds.flatMap(featureRow) }], { id: `t${i}`, model_version: '1' }));
        expect(res.id).toBe(`t${i}`);
        const p = outputsOf(res).get('probabilities')!;
        expect(p.shape).toEqual([rows, 2]);
        const got = numbers(p.data);
        rowIds.forEach((r, k) => {
          for (let j = 0; j < 2; j++) expect(Math.abs(got[k * 2 + j] - reference[r][j])).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(reference[r][j]));
        });
      }
    });
    await Promise.all(jobs);

    const after = (await call<{ model_stats: ModelStatsJson[] }>(ctx.clients.inference, 'ModelStatistics', { name: 'tabular_mlp', version: '1' })).model_stats[0];
    const requests = 100;
    const rowsSent = Array.from({ length: 200 }, (_, i) => i).filter((i) => i % 2 === 1).reduce((n, i) => n + 1 + (i % 8), 0);
    expect(Number(after.inference_count) - Number(before.inference_count)).toBe(rowsSent);
    expect(Number(after.inference_stats.success.count) - Number(before.inference_stats.success.count)).toBe(requests);
    // Batches formed: fewer executions than requests, and some batch larger than any one request (8 rows).
    const executions = Number(after.execution_count) - Number(before.execution_count);
    expect(executions).toBeLessThan(requests);
    expect(after.batch_stats.some((b) => Number(b.batch_size) > 8)).toBe(true);
    const simple = (await call<{ model_stats: ModelStatsJson[] }>(ctx.clients.inference, 'ModelStatistics', { name: 'simple' })).model_stats[0];
    expect(Number(simple.execution_count)).toBeLessThan(100);
  });
});
