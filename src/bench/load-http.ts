import { Agent, type IncomingMessage, request } from 'node:http';
import { ConfigError } from '../config/validate.js';
import { isDatatype } from '../protocol/datatypes.js';
import { encodeInferResponse } from '../protocol/json-codec.js';
import type { InferRequest, ModelMetadata, Tensor } from '../protocol/types.js';
import { RawHttpPool } from './http-connection.js';
import { type StatsSnapshot, parseStatistics } from './server-stats.js';
import { type Transport, parseHostPort, reachError } from './transport.js';
import type { HttpFormat } from './types.js';

/** A ready-to-send HTTP body with its headers; reused for every request. */
export interface HttpPayload {
  body: Buffer;
  headers: Record<string, string | number>;
}

/**
 * Encodes a request as OIP v2 JSON, or with Triton's binary tensor extension (JSON header,
 * then each input's raw bytes, sized by parameters.binary_data_size and located by the
 * Inference-Header-Content-Length header). Tensors go through the server's own JSON codec
 * (encodeInferResponse writes the same tensor objects a request carries) and raw codec.
 */
export function encodeHttpRequest(req: InferRequest, format: HttpFormat): HttpPayload {
  const binary = format === 'binary';
  const encoded = encodeInferResponse({ model_name: '', model_version: '', outputs: req.inputs as Tensor[] }, () => binary);
  const inputs = (JSON.parse(encoded.json) as { outputs: unknown[] }).outputs;
  const parameters = { ...req.parameters };
  // Ask for binary outputs too: a client that sends binary wants the cheap answer as well.
  if (binary && req.outputs === undefined && parameters.binary_data_output === undefined) parameters.binary_data_output = true;
  const header: Record<string, unknown> = { inputs };
  if (req.id !== undefined) header.id = req.id;
  if (req.outputs !== undefined) header.outputs = req.outputs;
  if (Object.keys(parameters).length > 0) header.parameters = parameters;
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  if (!binary) return { body: head, headers: { 'content-type': 'application/json', 'content-length': head.byteLength } };
  const body = Buffer.concat([head, ...encoded.binary]);
  return {
    body,
    headers: {
      'content-type': 'application/octet-stream',
      'content-length': body.byteLength,
      'inference-header-content-length': head.byteLength,
    },
  };
}

/** Reads a whole response body as text. */
function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function errorText(status: number | undefined, body: string): string {
  let msg = body.slice(0, 300);
  try {
    const j = JSON.parse(body) as { error?: unknown };
    if (typeof j.error === 'string') msg = j.error;
  } catch {
    // not JSON: keep the text
  }
  return `HTTP ${status}: ${msg}`;
}

/**
 * OIP v2 over HTTP/1.1. The load goes through lean keep-alive connections that send
 * prebuilt request bytes (RawHttpPool): on a 2-core box the load generator's CPU is what
 * limits the measurable throughput. Metadata and statistics use node:http.
 */
export class HttpTransport implements Transport {
  private readonly host: string;
  private readonly port: number;
  private readonly base: string;
  private readonly pool: RawHttpPool;
  private requests: Buffer[] = [];
  /** Control calls (metadata, stats) on their own agent so they never queue behind the load. */
  private readonly control = new Agent({ keepAlive: true, maxSockets: 1 });
  private payloads: HttpPayload[] = [];

  constructor(
    private readonly url: string,
    model: string,
    version: string,
    private readonly format: HttpFormat,
  ) {
    ({ host: this.host, port: this.port } = parseHostPort(url, 8000));
    this.base = `/v2/models/${encodeURIComponent(model)}${version ? `/versions/${encodeURIComponent(version)}` : ''}`;
    this.pool = new RawHttpPool(this.host, this.port);
  }

  private get(path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: this.host, port: this.port, path, agent: this.control, method: 'GET' }, (res) => {
        readBody(res).then((body) => resolve({ status: res.statusCode ?? 0, body }), reject);
      });
      req.on('error', (err) => reject(reachError(this.url, err)));
      req.end();
    });
  }

  async metadata(): Promise<ModelMetadata> {
    const { status, body } = await this.get(this.base);
    if (status !== 200) throw new Error(`model metadata (GET ${this.base}): ${errorText(status, body)}`);
    const meta = JSON.parse(body) as ModelMetadata;
    if (!Array.isArray(meta.inputs) || meta.inputs.some((i) => !isDatatype(i.datatype) || !Array.isArray(i.shape))) {
      throw new Error(`model metadata (GET ${this.base}) has no valid 'inputs' list`);
    }
    return meta;
  }

  prepare(requests: InferRequest[]): void {
    if (this.format === 'json') {
      const half = requests.flatMap((r) => r.inputs).find((t) => t.datatype === 'FP16' || t.datatype === 'BF16');
      if (half) throw new ConfigError(`input '${half.name}' is ${half.datatype}, which JSON cannot carry: use --http-format binary`);
    }
    this.payloads = requests.map((r) => encodeHttpRequest(r, this.format));
    const hostHeader = this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
    this.requests = this.payloads.map((p) => {
      const headers = Object.entries(p.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      const head = `POST ${this.base}/infer HTTP/1.1\r\nhost: ${hostHeader}\r\nconnection: keep-alive\r\n${headers}\r\n`;
      return Buffer.concat([Buffer.from(head, 'latin1'), p.body]);
    });
  }

  async infer(i: number): Promise<void> {
    let res;
    try {
      res = await this.pool.send(this.requests[i]);
    } catch (err) {
      throw reachError(this.url, err as Error & { code?: string });
    }
    // Only errors keep their body: the bench measures, it does not check answers.
    if (res.status !== 200) throw new Error(errorText(res.status, res.body?.toString('utf8') ?? ''));
  }

  async statistics(): Promise<StatsSnapshot | string> {
    const path = `${this.base}/stats`;
    const { status, body } = await this.get(path).catch((err: Error) => ({ status: 0, body: err.message }));
    if (status !== 200) return `the server has no statistics for this model (GET ${path}: ${status ? `HTTP ${status}` : body})`;
    let snap: StatsSnapshot | undefined;
    try {
      snap = parseStatistics(JSON.parse(body));
    } catch {
      snap = undefined;
    }
    return snap ?? `GET ${path} did not answer in the statistics extension's format ({"model_stats":[...]})`;
  }

  close(): void {
    this.pool.close();
    this.control.destroy();
  }
}
