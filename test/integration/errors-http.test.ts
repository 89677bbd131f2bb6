import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { getJson, postJson, startGateway } from '../helpers/gateway.js';

let gw: Gateway;
let url: string;

beforeAll(async () => {
  ({ gw, url } = await startGateway({ httpBodyLimit: 64 * 1024 }));
});
afterAll(async () => {
  await gw?.stop();
});

/** GET with the path sent byte for byte. */
function rawGet(path: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: Number(new URL(url).port), path, method: 'GET' }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const ones = (n: number) => Array.from({ length: n }, () => 1);
const simpleInputs = (rows = 1) => [
  { name: 'INPUT0', datatype: 'INT32', shape: [rows, 16], data: ones(rows * 16) },
  { name: 'INPUT1', datatype: 'INT32', shape: [rows, 16], data: ones(rows * 16) },
];
const infer = (body: unknown, model = 'simple') => postJson(`${url}/v2/models/${model}/infer`, body);

describe('health, metadata and routing', () => {
  it('answers liveness and readiness as Triton does', async () => {
    expect(await getJson(`${url}/v2/health/live`)).toEqual({ status: 200, body: { live: true } });
    expect(await getJson(`${url}/v2/health/ready`)).toEqual({ status: 200, body: { ready: true } });
    expect((await getJson(`${url}/v2/models/simple/ready`)).status).toBe(200);
    expect((await getJson(`${url}/v2/models/tabular_mlp/versions/2/ready`)).body).toEqual({ name: 'tabular_mlp', version: '2', ready: true });
    expect((await getJson(`${url}/v2/models/nope/ready`)).status).toBe(404);
  });

  it('serves server metadata with its extensions', async () => {
    const { body } = await getJson(`${url}/v2`);
    expect(body.name).toBe('infergate');
    expect(body.extensions).toEqual(expect.arrayContaining(['binary_tensor_data', 'model_repository', 'statistics', 'schedule_policy']));
  });

  it('derives model metadata from the ONNX file, -1 for dynamic dims', async () => {
    const { status, body } = await getJson(`${url}/v2/models/text_encoder`);
    expect(status).toBe(200);
    expect(body.platform).toBe('onnxruntime_onnx');
    expect(body.inputs).toEqual([
      { name: 'input_ids', datatype: 'INT64', shape: [-1, -1] },
      { name: 'attention_mask', datatype: 'INT64', shape: [-1, -1] },
    ]);
    expect(body.outputs).toEqual([{ name: 'embedding', datatype: 'FP32', shape: [-1, 256] }]);
    const churn = await getJson(`${url}/v2/models/churn_pipeline/versions/1`);
    expect(churn.body.inputs[0]).toEqual({ name: 'plan', datatype: 'BYTES', shape: [-1, 1] });
    const mlp = await getJson(`${url}/v2/models/tabular_mlp`);
    expect(mlp.body.versions).toEqual(['1', '2', '3']);
  });

  it('404s unknown models, versions and routes with a JSON error', async () => {
    const m = await infer({ inputs: simpleInputs() }, 'nope');
    expect(m.status).toBe(404);
    expect(m.body.error).toMatch(/unknown model: 'nope'/);
    const v = await postJson(`${url}/v2/models/simple/versions/7/infer`, { inputs: simpleInputs() });
    expect(v.status).toBe(404);
    expect(v.body.error).toMatch(/version 7/);
    const r = await getJson(`${url}/v3/whatever`);
    expect(r.status).toBe(404);
    expect(r.body.error).toMatch(/no such endpoint/);
  });

  it('rejects model names and versions that could escape the repository', async () => {
    // node:http sends the path as written (fetch would normalise '..' away before it left).
    for (const name of ['..', '%2E%2E', '.hidden', 'a%2F..%2Fb', '%2Fetc%2Fpasswd', 'x%00y']) {
      const res = await rawGet(`/v2/models/${name}`);
      expect(res.status, name).toBe(400);
      expect(res.body.error).toMatch(/invalid model name/);
    }
    const v = await rawGet(`/v2/models/simple/versions/..`);
    expect(v.status).toBe(400);
    expect(v.body.error).toMatch(/invalid model version/);
  });
});

describe('inference request validation', () => {
  it('echoes the id, honours an outputs subset and accepts extra parameters', async () => {
    const res = await infer({ id: 'r1', inputs: simpleInputs(), outputs: [{ name: 'OUTPUT1' }], parameters: { custom: 'x', n: 3 } });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe('r1');
    expect(res.body.outputs.map((o: { name: string }) => o.name)).toEqual(['OUTPUT1']);
    expect(res.body.outputs[0].data).toEqual(Array(16).fill(0));
  });

  it('accepts nested (row-major) JSON data', async () => {
    const nested = [Array.from({ length: 16 }, (_, i) => i)];
    const res = await infer({ inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: nested },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: nested },
    ] });
    expect(res.status).toBe(200);
    expect(res.body.outputs[0].data).toEqual(nested[0].map((x) => 2 * x));
  });

  const cases: [string, unknown, RegExp][] = [
    ['body that is not JSON', '{nope', /^failed to parse the request JSON buffer: /],
    ['missing inputs array', { outputs: [] }, /'inputs' must be a non-empty array/],
    ['missing input', { inputs: simpleInputs().slice(0, 1) }, /expected 2 inputs but got 1 inputs for model 'simple'\. Got input\(s\) \['INPUT0'\], but missing required input\(s\) \['INPUT1'\]/],
    ['unexpected input', { inputs: [...simpleInputs(), { name: 'EXTRA', datatype: 'INT32', shape: [1], data: [1] }] }, /expected 2 inputs but got 3 inputs for model 'simple'\. Got input\(s\) \['INPUT0','INPUT1','EXTRA'\]/],
    ['duplicate input', { inputs: [simpleInputs()[0], simpleInputs()[0]] }, /input 'INPUT0' already exists in request/],
    ['wrong datatype', { inputs: [{ ...simpleInputs()[0], datatype: 'FP32' }, simpleInputs()[1]] }, /inference input 'INPUT0' data-type is 'FP32', but model 'simple' expects 'INT32'/],
    ['unknown datatype', { inputs: [{ ...simpleInputs()[0], datatype: 'FLOAT' }, simpleInputs()[1]] }, /input 'INPUT0': unknown datatype "FLOAT"/],
    ['wrong shape', { inputs: [{ ...simpleInputs()[0], shape: [1, 15], data: ones(15) }, simpleInputs()[1]] }, /unexpected shape for input 'INPUT0' for model 'simple'\. Expected \[-1,16\], got \[1,15\]/],
    ['wrong rank', { inputs: [{ ...simpleInputs()[0], shape: [16], data: ones(16) }, simpleInputs()[1]] }, /input 'INPUT1' batch size does not match other inputs for 'simple'/],
    ['element count mismatch', { inputs: [{ ...simpleInputs()[0], data: ones(15) }, simpleInputs()[1]] }, /input 'INPUT0': shape implies 16 elements but 'data' has 15/],
    ['ragged nested data', { inputs: [{ ...simpleInputs()[0], data: [1, ones(16)] }, simpleInputs()[1]] }, /input 'INPUT0': shape implies 16 elements but 'data' has 17/],
    ['batch dims disagree', { inputs: [simpleInputs(2)[0], simpleInputs(1)[1]] }, /input 'INPUT1' batch size does not match other inputs for 'simple'/],
    ['non-integer INT32', { inputs: [{ ...simpleInputs()[0], data: [1.5, ...ones(15)] }, simpleInputs()[1]] }, /input 'INPUT0': 1.5 is not a valid INT32/],
    ['out-of-range INT32', { inputs: [{ ...simpleInputs()[0], data: [2 ** 31, ...ones(15)] }, simpleInputs()[1]] }, /2147483648 is not a valid INT32/],
    ['string in numeric data', { inputs: [{ ...simpleInputs()[0], data: ['1', ...ones(15)] }, simpleInputs()[1]] }, /INT32 data must be numbers/],
    ['negative dim', { inputs: [{ ...simpleInputs()[0], shape: [-1, 16] }, simpleInputs()[1]] }, /'shape' must be an array of non-negative integers/],
    ['unknown output', { inputs: simpleInputs(), outputs: [{ name: 'OUT9' }] }, /unexpected inference output 'OUT9' for model 'simple'/],
    ['FP16 as JSON', { inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 16], data: ones(16) }, simpleInputs()[1]] }, /receiving FP16 data via JSON is not supported\. Please use the binary data format for input INPUT0/],
    ['bad priority', { inputs: simpleInputs(), parameters: { priority: 3 } }, /priority 3 given but the model has no priority levels/],
    ['bad timeout', { inputs: simpleInputs(), parameters: { timeout: 'soon' } }, /parameter 'timeout' must be a non-negative integer/],
    ['batch above max_batch_size', { inputs: simpleInputs(65) }, /inference request batch-size must be <= 64 for 'simple'/],
  ];
  for (const [what, body, message] of cases) {
    it(`400 for ${what}, naming what was expected`, async () => {
      const res = await fetch(`${url}/v2/models/simple/infer`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const json = await res.json();
      expect(res.status).toBe(400);
      expect(json.error).toMatch(message);
    });
  }

  it('validates the binary extension framing', async () => {
    const head = JSON.stringify({ inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } },
    ] });
    const send = (body: Buffer, hl: string) =>
      fetch(`${url}/v2/models/simple/infer`, { method: 'POST', headers: { 'Inference-Header-Content-Length': hl }, body: new Uint8Array(body) });
    const short = await send(Buffer.concat([Buffer.from(head), Buffer.alloc(100)]), String(head.length));
    expect(short.status).toBe(400);
    expect((await short.json()).error).toBe("unexpected size for input 'INPUT1', expecting 28 additional bytes for model 'simple'");
    const extra = await send(Buffer.concat([Buffer.from(head), Buffer.alloc(130)]), String(head.length));
    expect((await extra.json()).error).toMatch(/^unexpected additional input data for model 'simple' \(2 bytes that no input claims\)/);
    const badLen = await send(Buffer.from(head), '99999');
    expect(badLen.status).toBe(400);
    expect((await badLen.json()).error).toMatch(/inference header size should be in range \(0, \d+\), got: 99999/);
    const wrongSize = JSON.stringify({ inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 60 } },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } },
    ] });
    const ws = await send(Buffer.concat([Buffer.from(wrongSize), Buffer.alloc(124)]), String(wrongSize.length));
    expect((await ws.json()).error).toMatch(/input byte size mismatch for input 'INPUT0' for model 'simple'\. Expected 64, got 60/);
  });

  it('413s a body over the limit and keeps serving', async () => {
    const big = await infer({ inputs: simpleInputs(), pad: 'x'.repeat(70 * 1024) });
    expect(big.status).toBe(413);
    expect(big.body.error).toMatch(/larger than the server's limit of 65536 bytes.*--http-body-limit/);
    expect((await infer({ inputs: simpleInputs() })).status).toBe(200);
  });

  it('counts failures in statistics and metrics', async () => {
    const stats = await getJson(`${url}/v2/models/simple/stats`);
    expect(stats.body.model_stats[0].inference_stats.fail.count).toBeGreaterThanOrEqual(8);
    const text = await gw.metrics.registry.getSingleMetricAsString('infergate_request_failure_total');
    expect(text).toMatch(/infergate_request_failure_total\{model="simple",version="1",reason="invalid_argument"\} \d+/);
  });
});
