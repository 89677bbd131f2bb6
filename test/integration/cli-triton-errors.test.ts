import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, cliBuilt, portOf, startCli } from '../helpers/cli.js';
import { getJson, postJson, scratchRepository } from '../helpers/gateway.js';
import { type GrpcClients, call, grpcClients, rawRequest, typedRequest } from '../helpers/grpc-client.js';

/**
 * Triton's error texts on the paths infergate shares with it, through the built CLI: a client
 * or script that matches on Triton's wording must get the same words here.
 */

let cli: RunningCli;
let grpc: GrpcClients;

beforeAll(async () => {
  if (!cliBuilt) return;
  const repo = scratchRepository(['simple', 'digits_cnn']);
  writeFileSync(join(repo, 'digits_cnn', '1', 'model.onnx'), 'not an onnx file');
  cli = await startCli(repo, ['--grpc-port', '0']);
  grpc = grpcClients(portOf(cli.listeners.gRPC));
});
afterAll(async () => {
  grpc?.close();
  if (cli) expect(await cli.stop()).toBe(0);
});

const row = (v: number) => Array.from({ length: 16 }, () => v);
const tensor = (name: string, over: Record<string, unknown> = {}) => ({ name, datatype: 'INT32', shape: [1, 16], data: row(1), ...over });
const infer = (body: unknown, path = 'simple') => postJson(`${cli.url}/v2/models/${path}/infer`, body);
const NOTE = 'NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be prepended to each input shape. ' +
  'If you want to specify the full shape including the batch dim in your input dims config, try setting max_batch_size to zero. ' +
  'See the model configuration docs for more info on max_batch_size.';

async function grpcFailure(method: string, req: unknown): Promise<ServiceError> {
  try {
    await call(grpc.inference, method, req);
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error(`${method} succeeded but should have failed`);
}

describe("Triton's error texts over HTTP (infergate serve)", () => {
  const cases: [string, string, unknown, number, string][] = [
    ['unknown model', 'nope', { inputs: [tensor('INPUT0'), tensor('INPUT1')] }, 404, "Request for unknown model: 'nope' is not found"],
    ['unknown version', 'simple/versions/7', { inputs: [tensor('INPUT0'), tensor('INPUT1')] }, 404, "Request for unknown model: 'simple' version 7 is not found"],
    ['version not ready', 'digits_cnn/versions/1', { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: Array(64).fill(0) }] }, 503,
      "Request for unknown model: 'digits_cnn' version 1 is not at ready state"],
    ['missing input', 'simple', { inputs: [tensor('INPUT0')] }, 400,
      "[request id: <id_unknown>] expected 2 inputs but got 1 inputs for model 'simple'. Got input(s) ['INPUT0'], but missing required input(s) ['INPUT1']. Please provide all required input(s)."],
    ['unexpected input', 'simple', { inputs: [tensor('INPUT0'), tensor('EXTRA')] }, 400, "unexpected inference input 'EXTRA' for model 'simple'"],
    ['duplicate input', 'simple', { id: 'r0', inputs: [tensor('INPUT0'), tensor('INPUT0')] }, 400, "[request id: r0] input 'INPUT0' already exists in request"],
    ['datatype mismatch', 'simple', { id: 'r1', inputs: [tensor('INPUT0', { datatype: 'FP32' }), tensor('INPUT1')] }, 400,
      "[request id: r1] inference input 'INPUT0' data-type is 'FP32', but model 'simple' expects 'INT32'"],
    ['shape mismatch', 'simple', { inputs: [tensor('INPUT0', { shape: [1, 8], data: row(1).slice(0, 8) }), tensor('INPUT1', { shape: [1, 8], data: row(1).slice(0, 8) })] }, 400,
      `[request id: <id_unknown>] unexpected shape for input 'INPUT0' for model 'simple'. Expected [-1,16], got [1,8]. ${NOTE}`],
    ['batch size mismatch', 'simple', { inputs: [tensor('INPUT0', { shape: [2, 16], data: row(1).concat(row(1)) }), tensor('INPUT1')] }, 400,
      "[request id: <id_unknown>] input 'INPUT1' batch size does not match other inputs for 'simple'"],
    ['batch over max_batch_size', 'simple', { inputs: ['INPUT0', 'INPUT1'].map((n) => tensor(n, { shape: [65, 16], data: Array(65 * 16).fill(1) })) }, 400,
      "[request id: <id_unknown>] inference request batch-size must be <= 64 for 'simple'"],
    ['unknown output', 'simple', { inputs: [tensor('INPUT0'), tensor('INPUT1')], outputs: [{ name: 'OUT9' }] }, 400, "unexpected inference output 'OUT9' for model 'simple'"],
    ['FP16 as JSON', 'simple', { inputs: [tensor('INPUT0', { datatype: 'FP16' }), tensor('INPUT1')] }, 400,
      'receiving FP16 data via JSON is not supported. Please use the binary data format for input INPUT0'],
  ];
  for (const [what, path, body, code, text] of cases) {
    it.skipIf(!cliBuilt)(`${what}: ${code} with Triton's text (needs dist/, which npm test builds)`, async () => {
      expect(await infer(body, path)).toEqual({ status: code, body: { error: text } });
    });
  }

  it.skipIf(!cliBuilt)('binary tensor data of the wrong size: the byte-size mismatch text', async () => {
    const head = JSON.stringify({ inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 60 } },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } },
    ] });
    const res = await fetch(`${cli.url}/v2/models/simple/infer`, {
      method: 'POST', headers: { 'Inference-Header-Content-Length': String(head.length) }, body: Buffer.concat([Buffer.from(head), Buffer.alloc(124)]),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "[request id: <id_unknown>] input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 60" });
  });

  it.skipIf(!cliBuilt)('metadata of a version that failed to load says it is not at ready state, and why', async () => {
    const res = await getJson(`${cli.url}/v2/models/digits_cnn/versions/1`);
    expect(res.status).toBe(503);
    expect(res.body.error).toMatch(/^Request for unknown model: 'digits_cnn' version 1 is not at ready state \(UNAVAILABLE: .*protobuf parsing failed/i);
    const latest = await getJson(`${cli.url}/v2/models/digits_cnn`);
    expect(latest.body.error).toMatch(/^Request for unknown model: 'digits_cnn' has no available versions \(version 1 UNAVAILABLE: /);
  });
});

describe("Triton's error texts over gRPC (infergate serve)", () => {
  const inputs = [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: row(2) }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: row(3) }];

  it.skipIf(!cliBuilt)('typed contents together with raw_input_contents', async () => {
    const req = rawRequest('simple', inputs);
    (req.inputs[0] as Record<string, unknown>).contents = { int_contents: row(2) };
    const e = await grpcFailure('ModelInfer', req);
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.details).toBe("contents field must not be specified when using raw_input_contents for 'INPUT0' for model 'simple'");
  });

  it.skipIf(!cliBuilt)('contents in the wrong field, no data at all, raw bytes of the wrong size, an unknown model', async () => {
    const wrong = typedRequest('simple', inputs);
    wrong.inputs[1].contents = { fp32_contents: row(3) };
    expect((await grpcFailure('ModelInfer', wrong)).details)
      .toBe("unexpected explicit tensor data for input tensor 'INPUT1' for model 'simple' of type 'FP32', expected datatype 'INT32'");
    const empty = { model_name: 'simple', inputs: inputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })) };
    expect((await grpcFailure('ModelInfer', empty)).details).toBe("unable to find data for input tensor 'INPUT0' for model 'simple' in request.");
    const short = rawRequest('simple', inputs, { id: 'q9' });
    short.raw_input_contents[1] = short.raw_input_contents[1].subarray(0, 60);
    expect((await grpcFailure('ModelInfer', short)).details)
      .toBe("[request id: q9] input byte size mismatch for input 'INPUT1' for model 'simple'. Expected 64, got 60");
    const unknown = await grpcFailure('ModelInfer', typedRequest('nope', inputs));
    expect(unknown.code).toBe(status.NOT_FOUND);
    expect(unknown.details).toBe("Request for unknown model: 'nope' is not found");
  });
});
