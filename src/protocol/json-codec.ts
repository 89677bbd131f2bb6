import { clip, clipJson } from './clip.js';
import { ARRAY_OF, type Datatype, INT_RANGE, type NumericArray, isDatatype } from './datatypes.js';
import { invalid } from './errors.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits, checkedElementCount } from './limits.js';
import { tensorDataFromRaw, rawFromTensorData } from './raw-codec.js';
import * as triton from './triton-errors.js';
import type { InferRequest, InferResponse, Parameters, RequestedOutput, Tensor, TensorData } from './types.js';

/** Where the binary data of Triton's binary tensor extension sits, after the JSON header. */
export interface BinarySection {
  bytes: Uint8Array;
  offset: number;
}


function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseParameters(v: unknown, where: string): Parameters | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw invalid(`${where}: 'parameters' must be an object`);
  for (const [k, p] of Object.entries(v)) {
    if (typeof p !== 'string' && typeof p !== 'number' && typeof p !== 'boolean') {
      throw invalid(`${where}: parameter '${clip(k)}' must be a string, number or boolean`);
    }
  }
  return v as Parameters;
}

function parseShape(v: unknown, name: string): number[] {
  if (!Array.isArray(v)) throw invalid(`input '${clip(name)}': 'shape' must be an array of non-negative integers`);
  for (const d of v) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw invalid(`input '${clip(name)}': 'shape' must be an array of non-negative integers, got ${clipJson(v)}`);
    }
  }
  return v as number[];
}

/** Refuses data nested deeper than its shape has dimensions (row-major nesting never is). */
function checkDepth(name: string, depth: number, maxDepth: number): void {
  if (depth > maxDepth) {
    throw invalid(`input '${clip(name)}': 'data' is nested deeper than its shape's ${maxDepth} dimension(s)`);
  }
}

/**
 * Counts the leaves of nested JSON data. Recursion is bounded by maxDepth (the shape's
 * rank, at most MAX_RANK), so a 4,000-level array is refused, not a stack overflow.
 */
function countLeaves(name: string, data: unknown[], depth: number, maxDepth: number): number {
  checkDepth(name, depth, maxDepth);
  let n = 0;
  for (const x of data) n += Array.isArray(x) ? countLeaves(name, x, depth + 1, maxDepth) : 1;
  return n;
}

/** Writes nested JSON numbers straight into the typed array, checking each element's type. */
function fillNumeric(name: string, dt: Datatype, out: NumericArray, data: unknown[], start: number, depth: number, maxDepth: number): number {
  checkDepth(name, depth, maxDepth);
  let i = start;
  const range = INT_RANGE[dt];
  const isFloat = dt === 'FP32' || dt === 'FP64';
  const isBig = dt === 'INT64' || dt === 'UINT64';
  for (const x of data) {
    if (Array.isArray(x)) {
      i = fillNumeric(name, dt, out, x, i, depth + 1, maxDepth);
      continue;
    }
    if (dt === 'BOOL') {
      if (typeof x !== 'boolean') throw invalid(`input '${clip(name)}': BOOL data must be true or false, got ${clipJson(x)}`);
      out[i++] = x ? 1 : 0;
    } else if (typeof x !== 'number') {
      throw invalid(`input '${clip(name)}': ${dt} data must be numbers, got ${clipJson(x)}`);
    } else if (isFloat) {
      out[i++] = x;
    } else if (!Number.isInteger(x) || (range && (x < range[0] || x > range[1])) || (dt === 'UINT64' && x < 0)) {
      throw invalid(`input '${clip(name)}': ${clipJson(x)} is not a valid ${dt}`);
    } else if (isBig) {
      (out as BigInt64Array)[i++] = BigInt(x);
    } else {
      out[i++] = x;
    }
  }
  return i;
}

function fillStrings(name: string, out: string[], data: unknown[], depth: number, maxDepth: number): void {
  checkDepth(name, depth, maxDepth);
  for (const x of data) {
    if (Array.isArray(x)) fillStrings(name, out, x, depth + 1, maxDepth);
    else if (typeof x === 'string') out.push(x);
    else throw invalid(`input '${clip(name)}': BYTES data must be strings, got ${clipJson(x)}`);
  }
}

/** Triton's text for JSON data whose element count is not the shape's, with the counts. */
function countMismatch(name: string, dt: Datatype, count: number, got: number, tag: triton.RequestTag): string {
  if (dt === 'BYTES') return triton.stringCount(tag, name, count, got);
  return `${triton.jsonDataCount(got > count)} (input '${name}': shape implies ${count} elements but 'data' has ${got})`;
}

/** Decodes the JSON data of one input into a flat typed array (or strings for BYTES). */
function dataFromJson(name: string, dt: Datatype, data: unknown, shape: number[], count: number, tag: triton.RequestTag): TensorData {
  if (!Array.isArray(data)) throw invalid(`input '${clip(name)}': 'data' must be an array`);
  if (dt === 'FP16' || dt === 'BF16') throw invalid(triton.halfFloatAsJson(dt, clip(name)));
  // Data is flat or nested row-major, so never deeper than the shape's rank (a scalar's is flat).
  const maxDepth = Math.max(1, shape.length);
  const flat = data.length === count && (count === 0 || !Array.isArray(data[0]));
  const got = flat ? data.length : countLeaves(name, data, 1, maxDepth);
  if (got !== count) throw invalid(countMismatch(clip(name), dt, count, got, tag));
  if (dt === 'BYTES') {
    const out: string[] = [];
    fillStrings(name, out, data, 1, maxDepth);
    if (out.length !== count) throw invalid(countMismatch(clip(name), dt, count, out.length, tag));
    return out;
  }
  const out = new ARRAY_OF[dt](count) as NumericArray;
  const filled = fillNumeric(name, dt, out, data, 0, 1, maxDepth);
  if (filled !== count) throw invalid(countMismatch(clip(name), dt, count, filled, tag));
  return out;
}

/**
 * Decodes one input. Order matters: name, datatype and shape are checked, and the shape's
 * element count bounded, before any data is touched or allocated.
 */
function decodeInput(raw: unknown, index: number, binary: BinarySection | undefined, used: number, limits: DecodeLimits, tag: triton.RequestTag): Tensor {
  if (!isObject(raw)) throw invalid(`inputs[${index}] must be an object`);
  const name = raw.name;
  if (typeof name !== 'string' || name === '') throw invalid(`inputs[${index}]: 'name' must be a non-empty string`);
  if (!isDatatype(raw.datatype)) {
    throw invalid(`input '${clip(name)}': unknown datatype ${clipJson(raw.datatype)}`);
  }
  const datatype = raw.datatype;
  const shape = parseShape(raw.shape, name);
  const parameters = parseParameters(raw.parameters, `input '${clip(name)}'`);
  const count = checkedElementCount(name, shape, used, limits);
  const binarySize = parameters?.binary_data_size;
  let data: TensorData;
  if (binarySize !== undefined) {
    if (!binary) throw invalid(triton.binaryWithoutHeader());
    if (raw.data !== undefined) throw invalid(`input '${clip(name)}': has both binary_data_size and 'data'`);
    if (!Number.isSafeInteger(binarySize) || (binarySize as number) < 0) {
      throw invalid(`input '${clip(name)}': binary_data_size must be a non-negative integer`);
    }
    const end = binary.offset + (binarySize as number);
    if (end > binary.bytes.byteLength) throw invalid(triton.binaryShort(tag, clip(name), end - binary.bytes.byteLength));
    data = tensorDataFromRaw(name, datatype, binary.bytes.subarray(binary.offset, end), count, tag);
    binary.offset = end;
  } else {
    data = dataFromJson(name, datatype, raw.data, shape, count, tag);
  }
  return { name, datatype, shape, data, parameters };
}

function decodeOutputs(raw: unknown): RequestedOutput[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) throw invalid(`'outputs' must be an array`);
  return raw.map((o, i) => {
    if (!isObject(o) || typeof o.name !== 'string') throw invalid(`outputs[${i}] must be an object with a 'name'`);
    return { name: o.name, parameters: parseParameters(o.parameters, `output '${clip(o.name)}'`) };
  });
}

/**
 * Decodes an OIP v2 JSON inference request; binary holds the bytes after a binary-extension
 * header, and model (from the URL) is named in Triton's error texts. Shapes are bounded by
 * `limits` before anything is allocated for their data.
 */
export function decodeInferRequest(body: unknown, binary?: BinarySection, model = '', limits: DecodeLimits = DEFAULT_DECODE_LIMITS): InferRequest {
  if (!isObject(body)) throw invalid('request body must be a JSON object');
  if (body.id !== undefined && typeof body.id !== 'string') throw invalid(`'id' must be a string`);
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) throw invalid(`'inputs' must be a non-empty array`);
  const tag = { model: clip(model), id: body.id === undefined ? undefined : clip(body.id as string) };
  let used = 0;
  const inputs = body.inputs.map((raw, i) => {
    const t = decodeInput(raw, i, binary, used, limits, tag);
    used += t.data.length;
    return t;
  });
  if (binary && binary.offset !== binary.bytes.byteLength) {
    throw invalid(`${triton.binaryLeftOver(tag)} (${binary.bytes.byteLength - binary.offset} bytes that no input claims)`);
  }
  return {
    id: body.id as string | undefined,
    inputs,
    outputs: decodeOutputs(body.outputs),
    parameters: parseParameters(body.parameters, 'request'),
  };
}

/** Converts 16-bit float words to numbers for JSON output. */
function halfToNumbers(words: Uint16Array, bf16: boolean): number[] {
  const out = new Array<number>(words.length);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (bf16) {
      u32[0] = w << 16;
      out[i] = f32[0];
      continue;
    }
    const sign = w & 0x8000 ? -1 : 1;
    const exp = (w >> 10) & 0x1f;
    const frac = w & 0x3ff;
    out[i] = exp === 0 ? sign * 2 ** -14 * (frac / 1024)
      : exp === 31 ? (frac ? NaN : sign * Infinity)
      : sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  return out;
}

/** JSON text of a tensor's data, flat. Non-finite floats (not valid JSON) become null. */
function jsonData(t: Tensor): string {
  const d = t.data;
  if (Array.isArray(d)) {
    return JSON.stringify(d.map((s) => (typeof s === 'string' ? s : Buffer.from(s).toString('utf8'))));
  }
  if (t.datatype === 'BOOL') return JSON.stringify(Array.from(d as Uint8Array, (x) => x !== 0));
  if (t.datatype === 'FP16' || t.datatype === 'BF16') {
    return JSON.stringify(halfToNumbers(d as Uint16Array, t.datatype === 'BF16'));
  }
  const text = '[' + Array.prototype.join.call(d, ',') + ']';
  const float = t.datatype === 'FP32' || t.datatype === 'FP64';
  return float && /[NI]/.test(text) ? JSON.stringify(Array.from(d as Float32Array)) : text;
}

/** An encoded HTTP response: JSON text alone, or a JSON header followed by binary output data. */
export interface EncodedResponse {
  json: string;
  binary: Uint8Array[];
}

/** Encodes an inference response; outputs named in binaryOutputs go as binary data after the JSON. */
export function encodeInferResponse(res: InferResponse, binaryOutputs: (name: string) => boolean): EncodedResponse {
  const binary: Uint8Array[] = [];
  const outs = res.outputs.map((t) => {
    const head = `{"name":${JSON.stringify(t.name)},"datatype":"${t.datatype}","shape":${JSON.stringify(t.shape)}`;
    if (binaryOutputs(t.name)) {
      const bytes = rawFromTensorData(t.data);
      binary.push(bytes);
      return `${head},"parameters":{"binary_data_size":${bytes.byteLength}}}`;
    }
    return `${head},"data":${jsonData(t)}}`;
  });
  let json = `{"model_name":${JSON.stringify(res.model_name)},"model_version":${JSON.stringify(res.model_version)}`;
  if (res.id !== undefined) json += `,"id":${JSON.stringify(res.id)}`;
  if (res.parameters) json += `,"parameters":${JSON.stringify(res.parameters)}`;
  json += `,"outputs":[${outs.join(',')}]}`;
  return { json, binary };
}
