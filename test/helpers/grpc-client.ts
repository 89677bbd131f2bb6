import { afterAll, beforeAll } from 'vitest';
import { grpcFrontEnd } from '../../src/api/grpc/server.js';
import type { ServerConfig } from '../../src/config/server-config.js';
import type { Gateway } from '../../src/gateway.js';
import { startGateway } from './gateway.js';
import { type Client, type GrpcObject, Metadata, type ServiceClientConstructor, type ServiceError, credentials, loadPackageDefinition } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS } from '../../src/api/grpc/proto.js';
import type { InferTensorContentsMsg, ModelInferRequestMsg, ModelInferResponseMsg } from '../../src/api/grpc/proto.js';
import { ARRAY_OF, type Datatype } from '../../src/protocol/datatypes.js';
import { rawFromTensorData, tensorDataFromRaw } from '../../src/protocol/raw-codec.js';
import type { TensorData } from '../../src/protocol/types.js';

/** A grpc-js client built from proto/, the way an outside user would build one. */

const CHANNEL_OPTIONS = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };

function ctor(root: GrpcObject, path: string): ServiceClientConstructor {
  let node: unknown = root;
  for (const p of path.split('.')) node = (node as Record<string, unknown>)[p];
  return node as ServiceClientConstructor;
}

export interface GrpcClients {
  inference: Client;
  health: Client;
  reflection: Client;
  close(): void;
}

const REFLECTION_PROTO = new URL('../../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto', import.meta.url).pathname;

/** Clients of the three services on one channel; `options` adds channel options (e.g. a connection of its own). */
export function grpcClients(port: number, options: Record<string, number | string> = {}): GrpcClients {
  const addr = `127.0.0.1:${port}`;
  const creds = credentials.createInsecure();
  const inf = loadPackageDefinition(protoLoader.loadSync('grpc_predict_v2.proto', LOADER_OPTIONS));
  const hl = loadPackageDefinition(protoLoader.loadSync('health.proto', LOADER_OPTIONS));
  const rf = loadPackageDefinition(protoLoader.loadSync(REFLECTION_PROTO, { keepCase: true, defaults: true, oneofs: true }));
  const inference = new (ctor(inf, 'inference.GRPCInferenceService'))(addr, creds, { ...CHANNEL_OPTIONS, ...options });
  const health = new (ctor(hl, 'grpc.health.v1.Health'))(addr, creds);
  const reflection = new (ctor(rf, 'grpc.reflection.v1.ServerReflection'))(addr, creds);
  return { inference, health, reflection, close: () => [inference, health, reflection].forEach((c) => c.close()) };
}

type UnaryFn = (req: unknown, meta: unknown, opts: { deadline?: Date }, cb: (err: ServiceError | null, res: unknown) => void) => void;

/** Calls a unary RPC by name; rejects with the ServiceError (code, details). */
export function call<Res = Record<string, unknown>>(client: Client, method: string, req: unknown, deadlineMs?: number, metadata = new Metadata()): Promise<Res> {
  const fn = (client as unknown as Record<string, UnaryFn>)[method].bind(client);
  const opts = deadlineMs === undefined ? {} : { deadline: new Date(Date.now() + deadlineMs) };
  return new Promise((resolve, reject) => {
    fn(req, metadata, opts, (err, res) => (err ? reject(err) : resolve(res as Res)));
  });
}

/** A test tensor as golden files write it: flat JSON data. */
export interface JsonTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: (number | string | boolean)[];
}

const FIELD: Record<string, keyof InferTensorContentsMsg> = {
  BOOL: 'bool_contents', INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents',
  UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents',
  FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents',
};

/** An input with typed contents (int64 as strings, BYTES as buffers). */
export function typedInput(t: JsonTensor) {
  const field = FIELD[t.datatype];
  const values =
    t.datatype === 'BYTES' ? t.data.map((s) => Buffer.from(String(s)))
    : t.datatype === 'INT64' || t.datatype === 'UINT64' ? t.data.map((x) => String(x))
    : t.data;
  return { name: t.name, datatype: t.datatype, shape: t.shape, contents: { [field]: values } };
}

/** Typed array (or strings) for a JSON tensor, as the raw codec expects. */
export function tensorData(t: JsonTensor): TensorData {
  if (t.datatype === 'BYTES') return t.data.map(String);
  const Ctor = ARRAY_OF[t.datatype as Exclude<Datatype, 'BYTES'>];
  if (Ctor === BigInt64Array || Ctor === BigUint64Array) return (Ctor as BigInt64ArrayConstructor).from(t.data.map((x) => BigInt(x as number)));
  return (Ctor as Float32ArrayConstructor).from(t.data.map(Number));
}

/** A ModelInferRequest with typed contents. */
export function typedRequest(model: string, inputs: JsonTensor[], extra: Partial<ModelInferRequestMsg> = {}) {
  return { model_name: model, inputs: inputs.map(typedInput), ...extra };
}

/** A ModelInferRequest with raw_input_contents. */
export function rawRequest(model: string, inputs: JsonTensor[], extra: Partial<ModelInferRequestMsg> = {}) {
  return {
    model_name: model,
    inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    raw_input_contents: inputs.map((t) => Buffer.from(rawFromTensorData(tensorData(t)))),
    ...extra,
  };
}

/** Decodes raw_output_contents by output name. */
export function outputsOf(res: ModelInferResponseMsg): Map<string, { shape: number[]; datatype: string; data: TensorData }> {
  const out = new Map<string, { shape: number[]; datatype: string; data: TensorData }>();
  res.outputs.forEach((o, i) => {
    const shape = o.shape.map(Number);
    const data = tensorDataFromRaw(o.name, o.datatype as Datatype, res.raw_output_contents[i], shape.reduce((a, b) => a * b, 1), { model: res.model_name });
    out.set(o.name, { shape, datatype: o.datatype, data });
  });
  return out;
}

/** Plain numbers of a tensor's data (for comparisons). */
export function numbers(data: TensorData): number[] {
  return Array.from(data as ArrayLike<number | bigint>, Number);
}

/** One gateway with the gRPC front end and clients for a whole test file. */
export function sharedGrpcGateway(overrides: Partial<ServerConfig> = {}): { gw: Gateway; clients: GrpcClients } {
  const shared = {} as { gw: Gateway; clients: GrpcClients };
  beforeAll(async () => {
    ({ gw: shared.gw } = await startGateway(overrides, [grpcFrontEnd]));
    shared.clients = grpcClients(shared.gw.port('gRPC'));
  });
  afterAll(async () => {
    shared.clients?.close();
    await shared.gw?.stop();
  });
  return shared;
}
