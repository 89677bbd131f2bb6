import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Client, type ServiceClientConstructor, type ServiceError, credentials, loadPackageDefinition, status } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTO_DIR } from '../../src/api/grpc/proto.js';
import { type RunningCli, cliBuilt, portOf, startCli } from '../helpers/cli.js';
import { MODELS, getJson, scratchRepository } from '../helpers/gateway.js';

/**
 * Triton's example clients (simple_http_health_metadata.py, simple_grpc_health_metadata.py)
 * against the built CLI: server metadata with --server-name, model metadata, the unknown-model
 * error, and the model configuration extension, over HTTP and gRPC, with requests shaped as
 * those clients send them.
 */

let cli: RunningCli;
let grpc: Client;

beforeAll(async () => {
  if (!cliBuilt) return;
  const repo = scratchRepository(['simple', 'tabular_mlp', 'churn_pipeline']);
  cpSync(join(MODELS, 'simple'), join(repo, 'tuned'), { recursive: true });
  writeFileSync(join(repo, 'tuned', 'config.yaml'), [
    'max_batch_size: 8',
    'instance_group: [{count: 1, kind: KIND_CPU}]',
    'version_policy: {specific: {versions: [1]}}',
    'dynamic_batching:',
    '  preferred_batch_size: [4, 8]',
    '  max_queue_delay_microseconds: 100',
    '  priority_levels: 2',
    '  default_priority_level: 2',
    '  default_queue_policy: {max_queue_size: 10, default_timeout_microseconds: 50000, allow_timeout_override: false}',
    'model_warmup:',
    '  - name: zeros',
    '    batch_size: 2',
    '    inputs: {INPUT0: {data_type: TYPE_INT32, dims: [16], zero_data: true}, INPUT1: {data_type: INT32, dims: [16], random_data: true}}',
  ].join('\n'));
  cli = await startCli(repo, ['--grpc-port', '0', '--server-name', 'triton', '--pool-size', '2']);
  // A client as Triton's Python one builds it: snake_case fields, 64-bit integers as numbers.
  const def = protoLoader.loadSync('grpc_predict_v2.proto', { keepCase: true, longs: Number, enums: String, defaults: true, includeDirs: [PROTO_DIR] });
  const Service = (loadPackageDefinition(def).inference as Record<string, ServiceClientConstructor>).GRPCInferenceService;
  grpc = new Service(`127.0.0.1:${portOf(cli.listeners.gRPC)}`, credentials.createInsecure());
});
afterAll(async () => {
  grpc?.close();
  if (cli) expect(await cli.stop()).toBe(0);
});

function rpc<T = Record<string, any>>(method: string, req: unknown): Promise<T> {
  const fn = (grpc as unknown as Record<string, (r: unknown, cb: (e: ServiceError | null, res: T) => void) => void>)[method].bind(grpc);
  return new Promise((resolve, reject) => fn(req, (e, res) => (e ? reject(e) : resolve(res))));
}

const io = (name: string, data_type: string, dims: number[]) => ({
  name, data_type, format: 'FORMAT_NONE', dims, is_shape_tensor: false, allow_ragged_batch: false, optional: false, is_non_linear_format_io: false,
});
const out = (name: string, data_type: string, dims: number[]) => ({
  name, data_type, dims, label_filename: '', is_shape_tensor: false, is_non_linear_format_io: false,
});
const cpuGroup = (name: string, count: number) => ({ name, kind: 'KIND_CPU', count, gpus: [], profile: [], passive: false, host_policy: '' });

const SIMPLE_CONFIG = {
  name: 'simple',
  platform: 'onnxruntime_onnx',
  backend: 'onnxruntime',
  runtime: '',
  version_policy: { latest: { num_versions: 1 } },
  max_batch_size: 64,
  input: [io('INPUT0', 'TYPE_INT32', [16]), io('INPUT1', 'TYPE_INT32', [16])],
  output: [out('OUTPUT0', 'TYPE_INT32', [16]), out('OUTPUT1', 'TYPE_INT32', [16])],
  batch_input: [],
  batch_output: [],
  dynamic_batching: {
    preferred_batch_size: [], max_queue_delay_microseconds: 0, preserve_ordering: false, priority_levels: 0, default_priority_level: 0,
    default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: 0, allow_timeout_override: true, max_queue_size: 0 },
    priority_queue_policy: {},
  },
  instance_group: [cpuGroup('simple_0', 2)],
  default_model_filename: 'model.onnx',
  cc_model_filenames: {},
  metric_tags: {},
  parameters: { intra_op_thread_count: { string_value: '1' }, execution_provider: { string_value: 'cpu' } },
  model_warmup: [],
};

/** A gRPC ModelConfig answer in the HTTP JSON form: no oneof markers, and the repeated fields the proto leaves out. */
function asHttpJson(config: Record<string, unknown>): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).filter(([k]) => !k.endsWith('_choice')).map(([k, x]) => [k, strip(x)]));
  };
  return { ...(strip(config) as object), batch_input: [], batch_output: [] };
}

describe('server metadata with --server-name (infergate serve)', () => {
  it.skipIf(!cliBuilt)('reports the given name over HTTP and gRPC, as Triton\'s example clients check (needs dist/, which npm test builds)', async () => {
    const http = await getJson(`${cli.url}/v2`);
    expect(http.body.name).toBe('triton');
    expect(http.body.extensions).toContain('model_configuration');
    const g = await rpc('ServerMetadata', {});
    expect(g.name).toBe('triton');
    expect(g.version).toBe(http.body.version);
    expect(g.extensions).toEqual(http.body.extensions);
  });

  it.skipIf(!cliBuilt)('answers the example clients\' metadata and wrong-model checks', async () => {
    expect((await rpc('ServerLive', {})).live).toBe(true);
    expect((await rpc('ServerReady', {})).ready).toBe(true);
    expect((await rpc('ModelReady', { name: 'simple', version: '' })).ready).toBe(true);
    expect((await rpc('ModelMetadata', { name: 'simple', version: '' })).name).toBe('simple');
    const err = await rpc('ModelMetadata', { name: 'wrong_model_name', version: '' }).catch((e: ServiceError) => e);
    expect((err as ServiceError).code).toBe(status.NOT_FOUND);
    expect((err as ServiceError).details).toBe("Request for unknown model: 'wrong_model_name' is not found");
    // The HTTP example adds query parameters to its health and metadata calls.
    expect((await fetch(`${cli.url}/v2/health/live?test_1=1&test_2=2`)).status).toBe(200);
    expect((await getJson(`${cli.url}/v2/models/simple?test_1=1&test_2=2`)).body.name).toBe('simple');
    const wrong = await getJson(`${cli.url}/v2/models/wrong_model_name`);
    expect(wrong).toEqual({ status: 404, body: { error: "Request for unknown model: 'wrong_model_name' is not found" } });
  });
});

describe('model configuration extension (infergate serve)', () => {
  it.skipIf(!cliBuilt)('GET /v2/models/{m}[/versions/{v}]/config answers Triton\'s ModelConfig JSON from the loaded model', async () => {
    expect(await getJson(`${cli.url}/v2/models/simple/config`)).toEqual({ status: 200, body: SIMPLE_CONFIG });
    expect((await getJson(`${cli.url}/v2/models/simple/versions/1/config`)).body).toEqual(SIMPLE_CONFIG);

    const mlp = (await getJson(`${cli.url}/v2/models/tabular_mlp/versions/2/config`)).body;
    expect(mlp.version_policy).toEqual({ all: {} });
    expect(mlp.input).toEqual([io('features', 'TYPE_FP32', [30])]);
    expect(mlp.output).toEqual([out('probabilities', 'TYPE_FP32', [2])]);
    const churn = (await getJson(`${cli.url}/v2/models/churn_pipeline/config`)).body;
    expect(churn.input.map((i: { data_type: string }) => i.data_type)).toEqual(['TYPE_STRING', 'TYPE_FP32']);

    const tuned = (await getJson(`${cli.url}/v2/models/tuned/config`)).body;
    expect(tuned.max_batch_size).toBe(8);
    expect(tuned.version_policy).toEqual({ specific: { versions: [1] } });
    expect(tuned.dynamic_batching).toEqual({
      preferred_batch_size: [4, 8], max_queue_delay_microseconds: 100, preserve_ordering: false, priority_levels: 2, default_priority_level: 2,
      default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: 50000, allow_timeout_override: false, max_queue_size: 10 },
      priority_queue_policy: {},
    });
    expect(tuned.instance_group).toEqual([cpuGroup('tuned_0', 1)]);
    expect(tuned.model_warmup).toEqual([{
      name: 'zeros', batch_size: 2, count: 1,
      inputs: { INPUT0: { data_type: 'TYPE_INT32', dims: [16], zero_data: true }, INPUT1: { data_type: 'TYPE_INT32', dims: [16], random_data: true } },
    }]);
  });

  it.skipIf(!cliBuilt)('HTTP config errors: unknown model and version 404, invalid names 400', async () => {
    expect(await getJson(`${cli.url}/v2/models/nope/config`)).toEqual({ status: 404, body: { error: "Request for unknown model: 'nope' is not found" } });
    const v = await getJson(`${cli.url}/v2/models/simple/versions/9/config`);
    expect(v.status).toBe(404);
    expect(v.body.error).toBe("Request for unknown model: 'simple' version 9 is not found");
    // A version string that is no number may be an alias: it reaches the router, which knows none here.
    const alias = await getJson(`${cli.url}/v2/models/simple/versions/x/config`);
    expect(alias.status).toBe(404);
    expect(alias.body.error).toMatch(/'x'/);
    expect((await getJson(`${cli.url}/v2/models/simple/versions/..%2F..%2Fetc/config`)).status).toBe(400);
  });

  it.skipIf(!cliBuilt)('gRPC ModelConfig answers the same configuration, and NOT_FOUND for an unknown model', async () => {
    const http = (await getJson(`${cli.url}/v2/models/tuned/config`)).body;
    const res = await rpc<{ config: Record<string, unknown> }>('ModelConfig', { name: 'tuned', version: '' });
    expect(asHttpJson(res.config)).toEqual(http);
    const simple = await rpc<{ config: Record<string, unknown> }>('ModelConfig', { name: 'simple', version: '1' });
    expect(asHttpJson(simple.config)).toEqual(SIMPLE_CONFIG);
    const err = (await rpc('ModelConfig', { name: 'nope', version: '' }).catch((e: ServiceError) => e)) as ServiceError;
    expect(err.code).toBe(status.NOT_FOUND);
    expect(err.details).toBe("Request for unknown model: 'nope' is not found");
    const noName = (await rpc('ModelConfig', { name: '', version: '' }).catch((e: ServiceError) => e)) as ServiceError;
    expect(noName.code).toBe(status.INVALID_ARGUMENT);
  });
});
