import { describe, expect, it } from 'vitest';
import type { ModelInferResponseMsg } from '../../src/api/grpc/proto.js';
import { expectClose, goldenFiles } from '../helpers/golden.js';
import { sharedGrpcGateway, call, grpcClients, outputsOf, rawRequest, typedRequest } from '../helpers/grpc-client.js';

const ctx = sharedGrpcGateway();

const files = goldenFiles();

describe('golden cases over gRPC', () => {
  it('finds golden files for every model', () => {
    expect(new Set(files.map((f) => f.model))).toEqual(new Set(['churn_pipeline', 'digits_cnn', 'simple', 'tabular_mlp', 'text_encoder']));
  });

  for (const f of files) {
    for (const [encoding, build] of [['typed contents', typedRequest], ['raw contents', rawRequest]] as const) {
      it(`${f.model}/${f.version}: ${f.cases.length} cases with ${encoding}`, async () => {
        for (const [i, c] of f.cases.entries()) {
          const req = build(f.model, c.request.inputs, { model_version: f.version, id: `${f.model}-${i}` });
          const res = await call<ModelInferResponseMsg>(ctx.clients.inference, 'ModelInfer', req);
          expect(res.id).toBe(`${f.model}-${i}`);
          expect(res.model_version).toBe(f.version);
          const outs = outputsOf(res);
          expect([...outs.keys()].sort()).toEqual(c.expected.outputs.map((o) => o.name).sort());
          for (const e of c.expected.outputs) {
            const got = outs.get(e.name)!;
            expect(got.shape, `${c.description}: ${e.name} shape`).toEqual(e.shape);
            expect(got.datatype).toBe(e.datatype);
            expectClose(got.data as ArrayLike<number>, e, f.tolerance);
          }
        }
      });
    }
  }
});
