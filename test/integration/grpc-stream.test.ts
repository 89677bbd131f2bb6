import type { ClientDuplexStream } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { ModelInferRequestMsg, ModelStreamInferResponseMsg } from '../../src/api/grpc/proto.js';
import { sharedGrpcGateway, type JsonTensor, grpcClients, numbers, outputsOf, rawRequest, typedRequest } from '../helpers/grpc-client.js';

const ctx = sharedGrpcGateway();

/** Expected outputs per request id, computed in the test (simple) or taken from a batch-1 run (tabular_mlp). */
type Check = (res: ModelStreamInferResponseMsg) => void;

function simpleCase(i: number): { inputs: JsonTensor[]; check: Check } {
  const rows = 1 + (i % 3);
  const a = Array.from({ length: rows * 16 }, (_, k) => (k * 7 + i) % 1000);
  const b = Array.from({ length: rows * 16 }, (_, k) => (k * 13 + 3 * i) % 1000);
  return {
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [rows, 16], data: a },
      { name: 'INPUT1', datatype: 'INT32', shape: [rows, 16], data: b },
    ],
    check: (res) => {
      const outs = outputsOf(res.infer_response!);
      expect(numbers(outs.get('OUTPUT0')!.data)).toEqual(a.map((x, k) => x + b[k]));
      expect(numbers(outs.get('OUTPUT1')!.data)).toEqual(a.map((x, k) => x - b[k]));
    },
  };
}

function digitsCase(i: number): { inputs: JsonTensor[]; check: Check } {
  return {
    inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: Array.from({ length: 64 }, (_, k) => (k * i) % 16) }],
    check: (res) => {
      const logits = outputsOf(res.infer_response!).get('logits')!;
      expect(logits.shape).toEqual([1, 10]);
      expect(numbers(logits.data).every(Number.isFinite)).toBe(true);
    },
  };
}

describe('ModelStreamInfer', () => {
  it('answers 100 interleaved requests of mixed models by id; a bad one errors in-stream and the stream goes on', async () => {
    const stream = (ctx.clients.inference as unknown as { ModelStreamInfer(): ClientDuplexStream<unknown, ModelStreamInferResponseMsg> }).ModelStreamInfer();
    const checks = new Map<string, Check>();
    const answers: ModelStreamInferResponseMsg[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: ModelStreamInferResponseMsg) => answers.push(m));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    const badId = 'req-50';
    for (let i = 0; i < 100; i++) {
      const id = `req-${i}`;
      let req: ModelInferRequestMsg | ReturnType<typeof typedRequest>;
      if (id === badId) {
        // Shape says 16 elements, data has 3: must fail alone.
        req = typedRequest('simple', [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: [1, 2, 3] },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: [1, 2, 3] },
        ], { id });
      } else {
        const c = i % 2 === 0 ? simpleCase(i) : digitsCase(i);
        const model = i % 2 === 0 ? 'simple' : 'digits_cnn';
        // Alternate the encodings too.
        req = (i % 4 < 2 ? typedRequest : rawRequest)(model, c.inputs, { id });
        checks.set(id, c.check);
      }
      stream.write(req);
    }
    stream.end();
    await done;

    expect(answers.length).toBe(100);
    const ids = answers.map((m) => m.infer_response?.id);
    expect(new Set(ids).size).toBe(100);
    const bad = answers.find((m) => m.infer_response?.id === badId)!;
    expect(bad.error_message).toBe("[request id: req-50] input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 12");
    for (const m of answers.filter((x) => x.infer_response?.id !== badId)) {
      expect(m.error_message).toBe('');
      checks.get(m.infer_response!.id)!(m);
    }
    // Requests after the bad one were answered too.
    expect(answers.some((m) => m.infer_response?.id === 'req-99' && m.error_message === '')).toBe(true);
  });
});
