import { describe, expect, it } from 'vitest';
import { binaryRequest, parseBinaryResponse } from '../helpers/binary-http.js';
import { sharedGateway, postJson } from '../helpers/gateway.js';
import { expectClose, goldenFiles } from '../helpers/golden.js';

const files = goldenFiles();
const ctx = sharedGateway();

describe('golden cases over HTTP', () => {
  it('ships golden files for the sample models', () => {
    expect(files.map((f) => `${f.model}/${f.version}`)).toEqual(
      expect.arrayContaining(['simple/1', 'tabular_mlp/1', 'tabular_mlp/2', 'tabular_mlp/3', 'digits_cnn/1', 'churn_pipeline/1', 'text_encoder/1']),
    );
  });

  for (const f of files) {
    for (const [i, c] of f.cases.entries()) {
      const path = `/v2/models/${f.model}/versions/${f.version}/infer`;

      it(`${f.model}/${f.version} case ${i} (${c.description}) as JSON`, async () => {
        const res = await postJson(ctx.url + path, { id: `case-${i}`, inputs: c.request.inputs });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.id).toBe(`case-${i}`);
        expect(res.body.model_name).toBe(f.model);
        expect(res.body.model_version).toBe(f.version);
        for (const e of c.expected.outputs) {
          const o = res.body.outputs.find((x: { name: string }) => x.name === e.name);
          expect(o, `output ${e.name}`).toBeDefined();
          expect(o.datatype).toBe(e.datatype);
          expect(o.shape).toEqual(e.shape);
          expectClose(o.data, e, f.tolerance);
        }
      });

      it(`${f.model}/${f.version} case ${i} as binary tensors`, async () => {
        const { body, headerLength } = binaryRequest(c.request.inputs);
        const res = await fetch(ctx.url + path, {
          method: 'POST',
          headers: { 'Inference-Header-Content-Length': String(headerLength), 'content-type': 'application/octet-stream' },
          body: new Uint8Array(body),
        });
        const buf = Buffer.from(await res.arrayBuffer());
        expect(res.status, buf.toString()).toBe(200);
        const hl = Number(res.headers.get('inference-header-content-length'));
        const { json, outputs } = parseBinaryResponse(buf, hl);
        for (const e of c.expected.outputs) {
          const o = json.outputs.find((x: { name: string }) => x.name === e.name);
          expect(o.parameters.binary_data_size).toBeGreaterThan(0);
          expect(o.shape).toEqual(e.shape);
          expectClose(outputs[e.name], e, f.tolerance);
        }
      });
    }
  }
});
