import { describe, expect, it } from 'vitest';
import { type RunningCli, cliBuilt } from '../helpers/cli.js';
import { servedWithGrpc } from '../helpers/served-cli.js';
import { postJson } from '../helpers/gateway.js';
import { type GrpcClients, call } from '../helpers/grpc-client.js';

/**
 * Issue 10, points 2, 4 and 6 (HTTP side), against the built CLI: shapes that imply more
 * elements than the bytes present (or than the per-request limit) are refused before
 * anything is allocated, nesting deeper than the shape is refused without recursing, inputs
 * onnxruntime cannot compute are the client's error, and errors quote client strings cut short.
 */

/** A binary-extension body: JSON header, then raw bytes. */
function binaryBody(header: unknown, raw: Buffer): { body: Buffer; headers: Record<string, string> } {
  const head = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([head, raw]), headers: { 'inference-header-content-length': String(head.length), 'content-type': 'application/octet-stream' } };
}

async function post(url: string, body: Buffer | string, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers, body: typeof body === 'string' ? body : new Uint8Array(body) });
  return { status: res.status, text: await res.text() };
}

/** One BYTES element "basic" with its 4-byte length: 9 bytes. */
const NINE_BYTES = Buffer.concat([Buffer.from([5, 0, 0, 0]), Buffer.from('basic')]);

describe.skipIf(!cliBuilt)('shape bombs, nesting, onnxruntime refusals and clipped errors against the built CLI (skipped only when dist/ is not built; npm test builds it)', () => {
  let cli: RunningCli;
  let grpc: GrpcClients;
  servedWithGrpc([], (c, g) => ((cli = c), (grpc = g)));

  it('element-count bombs are answered 400 while another client keeps being served', async () => {
    const simpleUrl = `${cli.url}/v2/models/simple/infer`;
    const valid = { inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: Array(16).fill(3) })) };
    let stop = false;
    const other: number[] = [];
    const neighbour = (async () => {
      while (!stop) other.push((await postJson(simpleUrl, valid)).status);
    })();
    try {
      await sendBombs();
    } finally {
      stop = true;
      await neighbour;
    }
    expect(other.length).toBeGreaterThan(0);
    expect(other.filter((s) => s !== 200)).toEqual([]);
    expect(cli.output()).not.toMatch(/Invalid array length|"level":50/);
  });

  async function sendBombs(): Promise<void> {
    const simpleUrl = `${cli.url}/v2/models/simple/infer`;

    const churn = `${cli.url}/v2/models/churn_pipeline/infer`;
    const bytesBomb = (shape: number[]) => binaryBody({ inputs: [{ name: 'plan', datatype: 'BYTES', shape, parameters: { binary_data_size: 9 } }] }, NINE_BYTES);
    const bombs: { send: () => Promise<{ status: number; text: string }>; error: RegExp }[] = [
      // 3 million BYTES elements claimed, 9 bytes present: known to be short before allocating.
      { send: () => { const b = bytesBomb([3000000, 1]); return post(churn, b.body, b.headers); }, error: /3000000 BYTES elements need at least 12000000 bytes.* got 9/ },
      // The probe's 30 million: over the element limit as well.
      { send: () => { const b = bytesBomb([30000000, 1]); return post(churn, b.body, b.headers); }, error: /implies 30000000 elements, over the server's limit of 16777216 per request/ },
      // 2^32 elements: once a 500 "Invalid array length".
      { send: () => { const b = bytesBomb([4294967296, 1]); return post(churn, b.body, b.headers); }, error: /shape \[4294967296,1\] implies 4294967296 elements, over the server's limit of 16777216 per request/ },
      { send: () => post(`${cli.url}/v2/models/tabular_mlp/infer`, JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1000000, 30], data: [] }] })), error: /implies 30000000 elements, over the server's limit/ },
      { send: () => post(simpleUrl, JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [67108864, 67108864, 67108864], data: [] }] })), error: /implies more than 2\^53 elements/ },
      { send: () => post(simpleUrl, JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2 ** 53, 1], data: [] }] })), error: /'shape' must be an array of non-negative integers/ },
    ];
    for (let round = 0; round < 10; round++) {
      for (const b of bombs) {
        const res = await b.send();
        expect(res.status, res.text).toBe(400);
        expect(JSON.parse(res.text).error).toMatch(b.error);
      }
    }
    // The same over gRPC: raw contents and typed contents.
    await expect(call(grpc.inference, 'ModelInfer', {
      model_name: 'churn_pipeline', inputs: [{ name: 'plan', datatype: 'BYTES', shape: ['4294967296', '1'] }], raw_input_contents: [NINE_BYTES],
    })).rejects.toMatchObject({ code: 3, details: expect.stringMatching(/over the server's limit of 16777216/) });
    await expect(call(grpc.inference, 'ModelInfer', {
      model_name: 'churn_pipeline', inputs: [{ name: 'plan', datatype: 'BYTES', shape: ['3000000', '1'] }], raw_input_contents: [NINE_BYTES],
    })).rejects.toMatchObject({ code: 3, details: expect.stringMatching(/need at least 12000000 bytes/) });
    await expect(call(grpc.inference, 'ModelInfer', {
      model_name: 'simple', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: ['18446744073709551615'], contents: { int_contents: [1] } }],
    })).rejects.toMatchObject({ code: 3 });
  }

  it('data nested 4,000 levels deep is 400, with nothing logged', async () => {
    const deep = (leaves: string) => '['.repeat(4000) + leaves + ']'.repeat(4000);
    const sixteen = Array(16).fill(1).join(',');
    const simple = `{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":${deep(sixteen)}},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":${deep(sixteen)}}]}`;
    const res = await post(`${cli.url}/v2/models/simple/infer`, simple);
    expect(res.status, res.text).toBe(400);
    expect(JSON.parse(res.text).error).toBe("input 'INPUT0': 'data' is nested deeper than its shape's 2 dimension(s)");
    // The shape of the probe that overflowed the stack: one leaf, counted before anything else.
    const oneLeaf = `{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,1],"data":${deep('1')}}]}`;
    expect((await post(`${cli.url}/v2/models/simple/infer`, oneLeaf)).status).toBe(400);
    const bytes = `{"inputs":[{"name":"plan","datatype":"BYTES","shape":[1,1],"data":${deep('"basic"')}},{"name":"usage","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}`;
    const b = await post(`${cli.url}/v2/models/churn_pipeline/infer`, bytes);
    expect(b.status).toBe(400);
    expect(JSON.parse(b.text).error).toMatch(/nested deeper than its shape/);
    expect(cli.output()).not.toMatch(/Maximum call stack|\n\s+at /);
  });

  it('inputs onnxruntime cannot compute are 400 naming the inputs, without onnxruntime source paths', async () => {
    const text = (seq: number, id = 1) => ({
      inputs: ['input_ids', 'attention_mask'].map((name) => ({ name, datatype: 'INT64', shape: [1, seq], data: Array(seq).fill(name === 'input_ids' ? id : 1) })),
    });
    const long = await postJson(`${cli.url}/v2/models/text_encoder/infer`, text(129));
    expect(long.status).toBe(400);
    expect(long.body.error).toMatch(/^the model cannot compute these inputs \(input_ids \[1,129\], attention_mask \[1,129\]\): Add node '\/Add': Attempting to broadcast an axis by a dimension other than 1\. 128 by 129$/);
    expect(long.body.error).not.toMatch(/onnxruntime_src|\.h:\d+|::/);
    const vocab = await postJson(`${cli.url}/v2/models/text_encoder/infer`, text(8, 9000));
    expect(vocab.status).toBe(400);
    expect(vocab.body.error).toMatch(/input_ids \[1,8\].*idx=9000 must be within the inclusive range/);
    // The model still serves a valid request afterwards.
    expect((await postJson(`${cli.url}/v2/models/text_encoder/infer`, text(8))).status).toBe(200);
    const grpcLong = call(grpc.inference, 'ModelInfer', {
      model_name: 'text_encoder',
      inputs: ['input_ids', 'attention_mask'].map((name) => ({ name, datatype: 'INT64', shape: ['1', '129'], contents: { int64_contents: Array(129).fill('1') } })),
    });
    await expect(grpcLong).rejects.toMatchObject({ code: 3, details: expect.stringMatching(/input_ids \[1,129\]/) });
    expect(cli.output()).not.toMatch(/"level":50|onnxruntime_src/);
  });

  it('client strings in errors are cut to a few hundred characters', async () => {
    const huge = 'X'.repeat(100_000);
    const simpleUrl = `${cli.url}/v2/models/simple/infer`;
    const input = (over: object) => ({ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Array(16).fill(1), ...over });
    const cases = [
      { inputs: [input({ datatype: huge })] },
      { inputs: [input({ name: huge, datatype: huge })] },
      { inputs: [input({ name: huge })] },
      { inputs: [input({}), input({ name: 'INPUT1' }), input({ name: huge })] },
      { inputs: [input({}), input({ name: 'INPUT1' })], outputs: [{ name: huge }] },
      { inputs: [input({ data: [huge, ...Array(15).fill(1)] })] },
      { inputs: [input({ shape: Array(100_000).fill(1) })] },
      { inputs: [input({}), input({ name: 'INPUT1' })], parameters: { priority: huge } },
    ];
    for (const body of cases) {
      const res = await post(simpleUrl, JSON.stringify(body));
      // 413 where the body is larger than any valid request to the model (its signature bounds it).
      expect([400, 413]).toContain(res.status);
      expect(res.text.length, res.text.slice(0, 300)).toBeLessThan(1100);
      expect(res.text).not.toContain('X'.repeat(201));
    }
    const badModel = await post(`${cli.url}/v2/models/${'m'.repeat(200)}/infer`, JSON.stringify({ inputs: [input({})] }));
    expect(badModel.status).toBe(400);
    expect(JSON.parse(badModel.text).error).toMatch(/^invalid model name 'm{200}'/);
  });
});
