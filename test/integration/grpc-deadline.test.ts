import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcFrontEnd } from '../../src/api/grpc/server.js';
import type { ModelStatsJson } from '../../src/core/stats.js';
import type { Gateway } from '../../src/gateway.js';
import { scratchRepository, startGateway } from '../helpers/gateway.js';
import { type GrpcClients, call, grpcClients, rawRequest } from '../helpers/grpc-client.js';

let gw: Gateway;
let clients: GrpcClients;
beforeAll(async () => {
  // One instance: one slow batch holds everything behind it in the queue.
  const dir = scratchRepository(['text_encoder']);
  writeFileSync(join(dir, 'text_encoder', 'config.yaml'), 'max_batch_size: 32\ninstance_group: [{count: 1}]\n');
  ({ gw } = await startGateway({ modelRepository: dir }, [grpcFrontEnd]));
  clients = grpcClients(gw.port('gRPC'));
});
afterAll(async () => {
  clients?.close();
  await gw?.stop();
});

const textInputs = (rows: number, seq: number) => {
  const ids = Array.from({ length: rows * seq }, (_, i) => (i * 31 + rows) % 8192);
  return [
    { name: 'input_ids', datatype: 'INT64', shape: [rows, seq], data: ids },
    { name: 'attention_mask', datatype: 'INT64', shape: [rows, seq], data: ids.map(() => 1) },
  ];
};
const stats = async () => (await call<{ model_stats: ModelStatsJson[] }>(clients.inference, 'ModelStatistics', { name: 'text_encoder' })).model_stats[0];

describe('gRPC deadlines', () => {
  it('a deadline that passes while queued gives DEADLINE_EXCEEDED and the request is never computed', async () => {
    const slow = call(clients.inference, 'ModelInfer', rawRequest('text_encoder', textInputs(32, 128), { id: 'slow' }));
    await new Promise((r) => setTimeout(r, 50));
    // Same shape as the slow one's rows could batch with it, so use another seq length: it must wait.
    const err = await call(clients.inference, 'ModelInfer', rawRequest('text_encoder', textInputs(1, 32), { id: 'late' }), 50).then(
      () => undefined,
      (e: { code: number }) => e,
    );
    expect(err?.code).toBe(status.DEADLINE_EXCEEDED);
    await slow;
    // Let the server side settle its failure accounting.
    await new Promise((r) => setTimeout(r, 100));
    const s = await stats();
    expect(Number(s.inference_count)).toBe(32);
    expect(Number(s.execution_count)).toBe(1);
    expect(Number(s.inference_stats.success.count)).toBe(1);
    expect(Number(s.inference_stats.fail.count)).toBe(1);
    expect(s.batch_stats.map((b) => Number(b.batch_size))).toEqual([32]);
    // The server dropped it for its deadline (not as a plain cancellation).
    const metrics = await gw.metrics.registry.metrics();
    expect(metrics).toMatch(/infergate_request_failure_total\{[^}]*reason="deadline_exceeded"[^}]*\} 1/);
  });
});
