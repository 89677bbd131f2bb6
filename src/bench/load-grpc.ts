import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { isDatatype } from '../protocol/datatypes.js';
import { rawFromTensorData } from '../protocol/raw-codec.js';
import type { InferRequest, ModelMetadata, ParamValue } from '../protocol/types.js';
import { type StatsSnapshot, parseStatistics } from './server-stats.js';
import { type Transport, parseHostPort } from './transport.js';

/** proto/ sits at the repo root: src/bench -> ../../proto (tsx, vitest) and dist/bench -> ../../proto (built). */
const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));
const PROTO_FILE = 'grpc_predict_v2.proto';

type Callback = (err: grpc.ServiceError | null, res: unknown) => void;
type Unary = (req: object, cb: Callback) => grpc.ClientUnaryCall;
interface InferenceClient extends grpc.Client {
  ModelInfer: Unary;
  ModelMetadata: Unary;
  ModelStatistics: Unary;
}

interface InferParameterMsg {
  bool_param?: boolean;
  int64_param?: number;
  double_param?: number;
  string_param?: string;
}

function parameterMsg(v: ParamValue): InferParameterMsg {
  if (typeof v === 'boolean') return { bool_param: v };
  if (typeof v === 'string') return { string_param: v };
  return Number.isInteger(v) ? { int64_param: v } : { double_param: v };
}

function parameterMap(p: Record<string, ParamValue> | undefined): Record<string, InferParameterMsg> {
  return Object.fromEntries(Object.entries(p ?? {}).map(([k, v]) => [k, parameterMsg(v)]));
}

/** A ModelInferRequest message with every tensor in raw_input_contents (the fast path). */
export function grpcInferMessage(model: string, version: string, req: InferRequest): object {
  return {
    model_name: model,
    model_version: version,
    id: req.id ?? '',
    parameters: parameterMap(req.parameters),
    inputs: req.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, parameters: parameterMap(t.parameters) })),
    outputs: (req.outputs ?? []).map((o) => ({ name: o.name, parameters: parameterMap(o.parameters) })),
    raw_input_contents: req.inputs.map((t) => {
      const raw = rawFromTensorData(t.data);
      return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    }),
  };
}

/** OIP v2 over gRPC (inference.GRPCInferenceService), one HTTP/2 channel multiplexing all calls. */
export class GrpcTransport implements Transport {
  private readonly client: InferenceClient;
  private messages: object[] = [];

  constructor(
    private readonly url: string,
    private readonly model: string,
    private readonly version: string,
  ) {
    if (!existsSync(`${PROTO_DIR}${PROTO_FILE}`)) throw new Error(`gRPC needs ${PROTO_DIR}${PROTO_FILE}, which is missing from this install`);
    const def = protoLoader.loadSync(PROTO_FILE, {
      keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR],
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
    const { host, port } = parseHostPort(url, 8001);
    this.client = new pkg.inference.GRPCInferenceService(`${host.includes(':') ? `[${host}]` : host}:${port}`, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
    }) as unknown as InferenceClient;
  }

  private call(method: 'ModelInfer' | 'ModelMetadata' | 'ModelStatistics', req: object): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.client[method](req, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  async metadata(): Promise<ModelMetadata> {
    let res: unknown;
    try {
      res = await this.call('ModelMetadata', { name: this.model, version: this.version });
    } catch (err) {
      const e = err as grpc.ServiceError;
      const hint = e.code === grpc.status.UNAVAILABLE ? `; is a gRPC server running at ${this.url} (--url)?` : '';
      throw new Error(`gRPC ModelMetadata for '${this.model}': ${e.details || e.message}${hint}`);
    }
    const meta = res as ModelMetadata;
    if (!Array.isArray(meta.inputs) || meta.inputs.some((i) => !isDatatype(i.datatype))) {
      throw new Error(`gRPC ModelMetadata for '${this.model}' has no valid inputs`);
    }
    return { ...meta, inputs: meta.inputs.map((i) => ({ ...i, shape: i.shape.map(Number) })) };
  }

  prepare(requests: InferRequest[]): void {
    this.messages = requests.map((r) => grpcInferMessage(this.model, this.version, r));
  }

  infer(i: number): Promise<void> {
    const msg = this.messages[i];
    return new Promise((resolve, reject) => {
      this.client.ModelInfer(msg, (err) => (err ? reject(new Error(`gRPC ${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`)) : resolve()));
    });
  }

  async statistics(): Promise<StatsSnapshot | string> {
    try {
      const res = await this.call('ModelStatistics', { name: this.model, version: this.version });
      return parseStatistics(res) ?? 'ModelStatistics answered without model_stats';
    } catch (err) {
      const e = err as grpc.ServiceError;
      return `the server has no statistics for this model (gRPC ModelStatistics: ${grpc.status[e.code] ?? e.code} ${e.details ?? ''})`.trim();
    }
  }

  close(): void {
    this.client.close();
  }
}
