import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcFrontEnd } from '../../src/api/grpc/server.js';
import type { ModelInferResponseMsg } from '../../src/api/grpc/proto.js';
import type { Gateway } from '../../src/gateway.js';
import { scratchRepository, startGateway } from '../helpers/gateway.js';
import { type GrpcClients, call, grpcClients, numbers, outputsOf, rawRequest, typedRequest } from '../helpers/grpc-client.js';

let gw: Gateway;
let clients: GrpcClients;
beforeAll(async () => {
  // simple and tabular_mlp from the sample repository, plus a one-instance text_encoder with a queue of 1.
  const dir = scratchRepository(['simple', 'tabular_mlp', 'text_encoder']);
  writeFileSync(
    join(dir, 'text_encoder', 'config.yaml'),
    'max_batch_size: 16\ninstance_group: [{count: 1}]\ndynamic_batching:\n  default_queue_policy: {max_queue_size: 1}\n',
  );
  ({ gw } = await startGateway({ modelRepository: dir }, [grpcFrontEnd]));
  clients = grpcClients(gw.port('gRPC'));
});
afterAll(async () => {
  clients?.close();
  await gw?.stop();
});

const a = Array.from({ length: 16 }, (_, i) => i);
const b = Array.from({ length: 16 }, (_, i) => 100 - i);
const simpleInputs = (shape = [1, 16], d0: number[] = a, d1: number[] = b) => [
  { name: 'INPUT0', datatype: 'INT32', shape, data: d0 },
  { name: 'INPUT1', datatype: 'INT32', shape, data: d1 },
];

/** The gRPC error of a call that must fail. */
async function failure(method: string, req: unknown): Promise<{ code: number; details: string }> {
  try {
    await call(clients.inference, method, req);
  } catch (err) {
    return err as { code: number; details: string };
  }
  throw new Error(`${method} succeeded but should have failed`);
}

const textInputs = (rows: number, seq: number) => {
  const ids = Array.from({ length: rows * seq }, (_, i) => (i * 31 + rows) % 8192);
  return [
    { name: 'input_ids', datatype: 'INT64', shape: [rows, seq], data: ids },
    { name: 'attention_mask', datatype: 'INT64', shape: [rows, seq], data: ids.map(() => 1) },
  ];
};

describe('gRPC inference errors and options', () => {
  it('unknown model and unknown version -> NOT_FOUND', async () => {
    const e1 = await failure('ModelInfer', typedRequest('no_such_model', simpleInputs()));
    expect(e1.code).toBe(status.NOT_FOUND);
    expect(e1.details).toContain('no_such_model');
    const e2 = await failure('ModelInfer', typedRequest('simple', simpleInputs(), { model_version: '99' }));
    expect(e2.code).toBe(status.NOT_FOUND);
    const e3 = await failure('ModelMetadata', { name: 'no_such_model' });
    expect(e3.code).toBe(status.NOT_FOUND);
  });

  it('bad shape -> INVALID_ARGUMENT naming the tensor', async () => {
    const e = await failure('ModelInfer', typedRequest('simple', simpleInputs([2, 8])));
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.details).toContain('INPUT0');
    expect(e.details).toContain('[2,8]');
  });

  it('element count that does not match the shape -> INVALID_ARGUMENT, typed and raw', async () => {
    const typed = await failure('ModelInfer', typedRequest('simple', simpleInputs([1, 16], a.slice(0, 15))));
    expect(typed.code).toBe(status.INVALID_ARGUMENT);
    expect(typed.details).toBe("[request id: <id_unknown>] input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 60");
    const raw = await failure('ModelInfer', rawRequest('simple', simpleInputs([1, 16], a, b.slice(0, 15))));
    expect(raw.code).toBe(status.INVALID_ARGUMENT);
    expect(raw.details).toBe("[request id: <id_unknown>] input byte size mismatch for input 'INPUT1' for model 'simple'. Expected 64, got 60");
  });

  it('mixing raw and typed contents, or the wrong contents field, -> INVALID_ARGUMENT', async () => {
    const mixed = rawRequest('simple', simpleInputs());
    (mixed.inputs[0] as Record<string, unknown>).contents = { int_contents: a };
    const e1 = await failure('ModelInfer', mixed);
    expect(e1.code).toBe(status.INVALID_ARGUMENT);
    expect(e1.details).toBe("contents field must not be specified when using raw_input_contents for 'INPUT0' for model 'simple'");

    const wrong = typedRequest('simple', simpleInputs());
    wrong.inputs[1].contents = { fp32_contents: b };
    const e2 = await failure('ModelInfer', wrong);
    expect(e2.code).toBe(status.INVALID_ARGUMENT);
    expect(e2.details).toBe("unexpected explicit tensor data for input tensor 'INPUT1' for model 'simple' of type 'FP32', expected datatype 'INT32'");

    const short = rawRequest('simple', simpleInputs());
    short.raw_input_contents.pop();
    const e3 = await failure('ModelInfer', short);
    expect(e3.code).toBe(status.INVALID_ARGUMENT);
    expect(e3.details).toBe("unable to find data for input tensor 'INPUT1' for model 'simple' in request.");

    const fp16 = await failure('ModelInfer', {
      model_name: 'simple',
      inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1], contents: { fp32_contents: [1] } }],
    });
    expect(fp16.code).toBe(status.INVALID_ARGUMENT);
    expect(fp16.details).toBe("unexpected explicit tensor data for input tensor 'INPUT0' for model 'simple' of type 'FP32', expected datatype 'FP16'");
  });

  it('out-of-range values for narrow integer types -> INVALID_ARGUMENT', async () => {
    const e = await failure('ModelInfer', {
      model_name: 'simple',
      inputs: [{ name: 'x', datatype: 'INT8', shape: [2], contents: { int_contents: [1, 300] } }],
    });
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.details).toBe("input 'x': element 1 value 300 is out of range for INT8");
  });

  it('echoes the id, honours the outputs subset, and reads parameters', async () => {
    const res = await call<ModelInferResponseMsg>(
      clients.inference,
      'ModelInfer',
      typedRequest('simple', simpleInputs(), {
        id: 'req-42',
        outputs: [{ name: 'OUTPUT1' }],
        parameters: { priority: { int64_param: '0' }, timeout: { int64_param: '5000000' } },
      }),
    );
    expect(res.id).toBe('req-42');
    expect(res.outputs.map((o) => o.name)).toEqual(['OUTPUT1']);
    expect(numbers(outputsOf(res).get('OUTPUT1')!.data)).toEqual(a.map((x, i) => x - b[i]));
    // The parameters reach the dataplane: a priority the model has no levels for is refused there.
    const e = await failure('ModelInfer', typedRequest('simple', simpleInputs(), { parameters: { priority: { int64_param: '2' } } }));
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.details).toContain('priority 2');
    const neg = await failure('ModelInfer', typedRequest('simple', simpleInputs(), { parameters: { timeout: { string_param: 'soon' } } }));
    expect(neg.code).toBe(status.INVALID_ARGUMENT);
    expect(neg.details).toContain("parameter 'timeout'");
  });

  it('queue full -> UNAVAILABLE "Exceeds maximum queue size"', async () => {
    const slow = call(clients.inference, 'ModelInfer', rawRequest('text_encoder', textInputs(16, 128)));
    await new Promise((r) => setTimeout(r, 50));
    // Different sequence lengths cannot share a batch: one waits in the queue (size 1), the others are refused.
    const rest = await Promise.allSettled([16, 17, 18].map((seq) => call(clients.inference, 'ModelInfer', rawRequest('text_encoder', textInputs(1, seq)))));
    await slow;
    const refused = rest.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as { code: number; details: string });
    expect(refused.length).toBe(2);
    for (const e of refused) {
      expect(e.code).toBe(status.UNAVAILABLE);
      expect(e.details).toBe('Exceeds maximum queue size');
    }
  });

  it('a message over grpcMaxMessageBytes is refused with RESOURCE_EXHAUSTED, smaller ones pass', async () => {
    expect(gw.config.grpcMaxMessageBytes).toBe(64 * 1024 * 1024);
    // 17M FP32 values = 68 MB > 64 MiB.
    const big = { model_name: 'tabular_mlp', inputs: [{ name: 'features', datatype: 'FP32', shape: [566_667, 30] }], raw_input_contents: [Buffer.alloc(566_667 * 30 * 4)] };
    const e = await failure('ModelInfer', big);
    expect(e.code).toBe(status.RESOURCE_EXHAUSTED);
    // 40 MB (over grpc-js's 4 MiB default) gets through and reaches the model's own checks.
    const rows = 333_334;
    const ok = { model_name: 'tabular_mlp', inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 30] }], raw_input_contents: [Buffer.alloc(rows * 30 * 4)] };
    const e2 = await failure('ModelInfer', ok);
    expect(e2.code).toBe(status.INVALID_ARGUMENT);
    expect(e2.details).toContain('inference request batch-size must be <= 64');
  });
});
