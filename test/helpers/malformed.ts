/**
 * Malformed inference requests, generated deterministically from a seed: near-valid requests
 * to the sample models with one to three things broken (shapes, datatypes, data, names,
 * parameters, binary framing, raw contents), plus some that are not requests at all. Used by
 * the fuzz test (test/integration/fuzz.test.ts) and the memory-after-abuse measurement
 * (bench/abuse-memory.ts). Some mutations leave a request valid; that is fine, the check is
 * that nothing is answered >= 500.
 */

/** mulberry32: a small seeded PRNG, so a failing case can be regenerated from its seed and index. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)];

interface Tensor {
  name: string;
  datatype: string;
  shape: unknown[];
  data?: unknown;
  parameters?: Record<string, unknown>;
}
interface Req {
  id?: unknown;
  inputs?: unknown;
  outputs?: unknown;
  parameters?: Record<string, unknown>;
}

/** Valid requests of the sample models, small enough that the ones left valid cost little. */
function baseRequest(r: Rand): { model: string; req: { inputs: Tensor[] } } {
  const rows = 1 + int(r, 3);
  const nums = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
  switch (int(r, 5)) {
    case 0:
      return { model: 'simple', req: { inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [rows, 16], data: nums(rows * 16, (i) => i) })) } };
    case 1:
      return { model: 'tabular_mlp', req: { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 30], data: nums(rows * 30, (i) => i / 30) }] } };
    case 2:
      return {
        model: 'churn_pipeline',
        req: { inputs: [
          { name: 'plan', datatype: 'BYTES', shape: [rows, 1], data: nums(rows, () => 0).map(() => pick(r, ['basic', 'premium', 'pro', ''])) },
          { name: 'usage', datatype: 'FP32', shape: [rows, 3], data: nums(rows * 3, (i) => i) },
        ] },
      };
    case 3:
      return { model: 'digits_cnn', req: { inputs: [{ name: 'image', datatype: 'FP32', shape: [rows, 1, 8, 8], data: nums(rows * 64, (i) => i % 16) }] } };
    default: {
      const seq = 1 + int(r, 8);
      return {
        model: 'text_encoder',
        req: { inputs: ['input_ids', 'attention_mask'].map((name) => ({ name, datatype: 'INT64', shape: [1, seq], data: nums(seq, (i) => (name === 'input_ids' ? i * 7 : 1)) })) },
      };
    }
  }
}

const ODD_NUMBERS = [0, -1, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, 1e300, -0, 4294967296, 30000000];
const ODD_VALUES: unknown[] = [null, true, 'x', {}, [], '1', -1, 1e308, 'Infinity', 2 ** 63, [1, [2]]];

function longString(r: Rand): string {
  return pick(r, ['A', 'é', '\u0000', '"', 'ﬀ']).repeat(pick(r, [300, 5000, 100_000]));
}

/**
 * Data nested `depth` levels deep. Deep ones are a placeholder that toJson() expands, since
 * JSON.stringify itself overflows the stack at a few thousand levels.
 */
function nested(depth: number, leaf: unknown): unknown {
  if (depth > 100) return `@@nest${depth}@@`;
  let d: unknown = [leaf];
  for (let i = 0; i < depth; i++) d = [d];
  return d;
}

/** JSON text of a request, with deep-nesting placeholders expanded. */
function toJson(v: unknown): string {
  return (JSON.stringify(v) ?? '').replace(/"@@nest(\d+)@@"/g, (_, n: string) => '['.repeat(Number(n)) + '1' + ']'.repeat(Number(n)));
}

/** One broken thing in a JSON request (in place). */
function mutateJson(r: Rand, req: Req & { inputs: Tensor[] }): void {
  // An earlier mutation may have broken the structure itself: then there is nothing to aim at.
  if (!Array.isArray(req.inputs) || req.inputs.length === 0) return;
  const t = pick(r, req.inputs);
  if (typeof t !== 'object' || t === null) return;
  switch (int(r, 16)) {
    case 0: if (Array.isArray(t.shape)) t.shape[int(r, t.shape.length)] = pick(r, ODD_NUMBERS); break;
    case 1: t.shape = pick<unknown>(r, [[], [1], [...(Array.isArray(t.shape) ? t.shape : []), 1], Array(70).fill(1), 'shape', [[1, 2]], [4294967296, 1], [2 ** 26, 2 ** 26, 2 ** 26], [1e6, 30]]) as unknown[]; break;
    case 2: t.datatype = pick(r, ['FLOAT', 'fp32', '', 'INT32', 'BYTES', 'FP16', 'BF16', 'BOOL', 'UINT64', 7 as unknown as string, longString(r)]); break;
    case 3: if (Array.isArray(t.data)) t.data.splice(int(r, t.data.length + 1), 1 + int(r, 3)); break;
    case 4: if (Array.isArray(t.data)) t.data.push(...Array(1 + int(r, 5)).fill(1)); break;
    case 5: if (Array.isArray(t.data) && t.data.length) t.data[int(r, t.data.length)] = pick(r, ODD_VALUES); break;
    case 6: t.data = nested(pick(r, [3, 64, 100, 4000, 20000]), 1); t.shape = [1, 1]; break;
    case 7: t.data = pick(r, [null, 'data', 5, {}, undefined]); break;
    case 8: t.name = pick(r, ['', 'nope', longString(r), 42 as unknown as string]); break;
    case 9: req.inputs.push({ ...t }); break;
    case 10: t.parameters = pick(r, [{ binary_data_size: 8 }, { binary_data_size: -1 }, { x: {} }, { x: [1] }, 'p' as unknown as Record<string, unknown>]); break;
    case 11: req.parameters = pick(r, [{ priority: -1 }, { priority: 2 ** 60 }, { timeout: 'soon' }, { priority: longString(r) }, { binary_data_output: 'yes' }, { x: null }]); break;
    case 12: req.outputs = pick(r, [[{ name: 'nope' }], [{}], 'all', [{ name: longString(r) }], [{ name: 'x', parameters: 5 }]]); break;
    case 13: req.id = pick(r, [5, {}, [], longString(r)]); break;
    case 14: if (Array.isArray(t.data)) t.data = nested(1 + int(r, 3), t.data); break;
    default: (req as Req).inputs = pick(r, [[], {}, 'inputs', null, Array.from({ length: 2000 }, (_, i) => ({ name: `a${i}`, datatype: 'INT32', shape: [1], data: [1] }))]);
  }
}

/** An HTTP request as the fuzz client sends it. */
export interface HttpCase {
  kind: 'http';
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** A gRPC ModelInfer request (proto-loader object form). */
export interface GrpcCase {
  kind: 'grpc';
  request: Record<string, unknown>;
}

export type MalformedCase = HttpCase | GrpcCase;

function modelPath(r: Rand, model: string): string {
  switch (int(r, 12)) {
    case 0: return `/v2/models/${pick(r, ['nope', '..', '%2e%2e', 'a'.repeat(300), '%zz', 'simple%00'])}/infer`;
    case 1: return `/v2/models/${model}/versions/${pick(r, ['0', '-1', '99', 'x', '1'.repeat(40)])}/infer`;
    default: return `/v2/models/${model}/infer`;
  }
}

function httpJsonCase(r: Rand): HttpCase {
  const { model, req } = baseRequest(r);
  for (let i = 0, n = 1 + int(r, 3); i < n; i++) mutateJson(r, req);
  let text = toJson(req);
  const headers: Record<string, string> = { 'content-type': pick(r, ['application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', '']) };
  switch (int(r, 10)) {
    case 0: text = text.slice(0, int(r, text.length)); break;
    case 1: text = pick(r, ['', 'null', '[]', '"x"', '{', '{"inputs":', '\u0000\u0001', 'x'.repeat(1000)]); break;
    case 2: headers['inference-header-content-length'] = pick(r, ['-1', 'abc', '1e3', String(text.length + 5), '0']); break;
    default:
  }
  return { kind: 'http', path: modelPath(r, model), headers, body: Buffer.from(text) };
}

/** Raw bytes of a tensor's JSON data (little-endian), BYTES with 4-byte length prefixes. */
function rawOf(t: Tensor): Buffer {
  const data = (Array.isArray(t.data) ? t.data : []) as unknown[];
  if (t.datatype === 'BYTES') return Buffer.concat(data.map((s) => { const b = Buffer.from(String(s)); const n = Buffer.alloc(4); n.writeUInt32LE(b.length); return Buffer.concat([n, b]); }));
  if (t.datatype === 'INT64') { const b = Buffer.alloc(data.length * 8); data.forEach((v, i) => b.writeBigInt64LE(BigInt(Number(v) | 0), i * 8)); return b; }
  if (t.datatype === 'INT32') { const b = Buffer.alloc(data.length * 4); data.forEach((v, i) => b.writeInt32LE(Number(v) | 0, i * 4)); return b; }
  const b = Buffer.alloc(data.length * 4);
  data.forEach((v, i) => b.writeFloatLE(Number(v), i * 4));
  return b;
}

function httpBinaryCase(r: Rand): HttpCase {
  const { model, req } = baseRequest(r);
  const raws = req.inputs.map(rawOf);
  req.inputs.forEach((t, i) => {
    delete t.data;
    t.parameters = { binary_data_size: raws[i].length };
  });
  const t = int(r, req.inputs.length);
  const input = req.inputs[t];
  if (!Array.isArray(input.shape)) input.shape = [1];
  switch (int(r, 9)) {
    case 0: input.parameters!.binary_data_size = pick(r, [raws[t].length + 1, raws[t].length - 1, 0, -4, 2 ** 53, 1e12, '8']); break;
    case 1: input.shape = pick(r, [[4294967296, 1], [30000000, 1], [2 ** 53, 1], [0, 1], [1e6, 30]]); break;
    case 2: raws[t] = Buffer.concat([raws[t], Buffer.from([1, 2, 3])]); break;
    case 3: if (raws[t].length >= 4) raws[t].writeUInt32LE(pick(r, [0xffffffff, 1e6, raws[t].length]), 0); break;
    case 4: raws[t] = raws[t].subarray(0, int(r, raws[t].length)); break;
    case 5: mutateJson(r, req); break;
    case 6: input.datatype = pick(r, ['FP16', 'BF16', 'UINT8', 'BYTES', 'FP64', 'BOOL']); break;
    default: input.shape = [1, ...(Array.isArray(input.shape) ? input.shape.slice(1) : [])];
  }
  const head = Buffer.from(toJson(req));
  let headerLength = String(head.length);
  if (r() < 0.15) headerLength = pick(r, [String(head.length - 1), String(head.length + 3), '-5', 'x', String(2 ** 60)]);
  return {
    kind: 'http',
    path: modelPath(r, model),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': headerLength },
    body: Buffer.concat([head, ...raws]),
  };
}

const CONTENTS_FIELD: Record<string, string> = { INT32: 'int_contents', INT64: 'int64_contents', FP32: 'fp32_contents', BYTES: 'bytes_contents' };

function grpcCase(r: Rand): GrpcCase {
  const { model, req } = baseRequest(r);
  const useRaw = r() < 0.5;
  const inputs: Record<string, unknown>[] = req.inputs.map((t) => {
    const values = (t.data as unknown[]).map((v) => (t.datatype === 'BYTES' ? Buffer.from(String(v)) : t.datatype === 'INT64' ? String(v) : v));
    return { name: t.name, datatype: t.datatype, shape: t.shape.map(String), ...(useRaw ? {} : { contents: { [CONTENTS_FIELD[t.datatype]]: values } }) };
  });
  const request: Record<string, unknown> = { model_name: model, inputs };
  if (useRaw) request.raw_input_contents = req.inputs.map(rawOf);
  const t = pick(r, inputs);
  for (let i = 0, n = 1 + int(r, 2); i < n; i++) {
    switch (int(r, 12)) {
      case 0: t.shape = pick(r, [['4294967296', '1'], ['18446744073709551615'], ['-1', '16'], ['30000000', '1'], ['67108864', '67108864', '67108864'], [], Array(70).fill('1')]); break;
      case 1: t.datatype = pick(r, ['FLOAT', '', 'FP16', 'BF16', 'UINT8', 'BYTES', 'X'.repeat(100_000), 'INT8']); break;
      case 2: if (useRaw) (request.raw_input_contents as Buffer[]).push(Buffer.from([1, 2, 3, 4])); else t.contents = { fp64_contents: [1, 2] }; break;
      case 3: if (useRaw) (request.raw_input_contents as Buffer[])[0] = Buffer.alloc(int(r, 9)); else t.contents = { int_contents: [2 ** 31 - 1, -(2 ** 31)] }; break;
      case 4: t.name = pick(r, ['', 'nope', 'N'.repeat(100_000)]); break;
      case 5: request.model_name = pick(r, ['', 'nope', '..', 'm'.repeat(100_000)]); break;
      case 6: request.model_version = pick(r, ['0', 'x', '99', '9'.repeat(30)]); break;
      case 7: request.parameters = pick(r, [{ priority: { int64_param: '9223372036854775807' } }, { timeout: { string_param: 'x' } }, { p: {} }, { priority: { double_param: -1 } }]); break;
      case 8: request.outputs = pick(r, [[{ name: 'nope' }], [{ name: 'O'.repeat(100_000) }]]); break;
      case 9: t.parameters = { binary_data_size: { int64_param: '5' } }; break;
      case 10: if (useRaw) t.contents = { int_contents: [1] }; else request.raw_input_contents = [Buffer.alloc(4)]; break;
      default: request.inputs = pick(r, [[], [t, t]]);
    }
  }
  return { kind: 'grpc', request };
}

/** `count` malformed requests from `seed`: HTTP JSON, HTTP binary and gRPC, interleaved. */
export function malformedRequests(seed: number, count: number, protocols: readonly ('http' | 'binary' | 'grpc')[] = ['http', 'binary', 'grpc']): MalformedCase[] {
  const r = prng(seed);
  const out: MalformedCase[] = [];
  for (let i = 0; i < count; i++) {
    const p = protocols[i % protocols.length];
    out.push(p === 'http' ? httpJsonCase(r) : p === 'binary' ? httpBinaryCase(r) : grpcCase(r));
  }
  return out;
}
