import { ARRAY_OF, type Datatype, INT_RANGE, type NumericArray, elementCount, isDatatype } from './datatypes.js';
import { invalid } from './errors.js';
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
      throw invalid(`${where}: parameter '${k}' must be a string, number or boolean`);
    }
  }
  return v as Parameters;
}

function parseShape(v: unknown, name: string): number[] {
  if (!Array.isArray(v)) throw invalid(`input '${name}': 'shape' must be an array of non-negative integers`);
  for (const d of v) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw invalid(`input '${name}': 'shape' must be an array of non-negative integers, got ${JSON.stringify(v)}`);
    }
  }
  return v as number[];
}

/** Counts the leaves of (possibly nested) JSON data. */
function countLeaves(data: unknown[]): number {
  let n = 0;
  for (const x of data) n += Array.isArray(x) ? countLeaves(x) : 1;
  return n;
}

/** Writes nested JSON numbers straight into the typed array, checking each element's type. */
function fillNumeric(name: string, dt: Datatype, out: NumericArray, data: unknown[], start: number): number {
  let i = start;
  const range = INT_RANGE[dt];
  const isFloat = dt === 'FP32' || dt === 'FP64';
  const isBig = dt === 'INT64' || dt === 'UINT64';
  for (const x of data) {
    if (Array.isArray(x)) {
      i = fillNumeric(name, dt, out, x, i);
      continue;
    }
    if (dt === 'BOOL') {
      if (typeof x !== 'boolean') throw invalid(`input '${name}': BOOL data must be true or false, got ${JSON.stringify(x)}`);
      out[i++] = x ? 1 : 0;
    } else if (typeof x !== 'number') {
      throw invalid(`input '${name}': ${dt} data must be numbers, got ${JSON.stringify(x)}`);
    } else if (isFloat) {
      out[i++] = x;
    } else if (!Number.isInteger(x) || (range && (x < range[0] || x > range[1])) || (dt === 'UINT64' && x < 0)) {
      throw invalid(`input '${name}': ${JSON.stringify(x)} is not a valid ${dt}`);
    } else if (isBig) {
      (out as BigInt64Array)[i++] = BigInt(x);
    } else {
      out[i++] = x;
    }
  }
  return i;
}

function fillStrings(name: string, out: string[], data: unknown[]): void {
  for (const x of data) {
    if (Array.isArray(x)) fillStrings(name, out, x);
    else if (typeof x === 'string') out.push(x);
    else throw invalid(`input '${name}': BYTES data must be strings, got ${JSON.stringify(x)}`);
  }
}

/** Triton's text for JSON data whose element count is not the shape's, with the counts. */
function countMismatch(name: string, dt: Datatype, count: number, got: number, tag: triton.RequestTag): string {
  if (dt === 'BYTES') return triton.stringCount(tag, name, count, got);
  return `${triton.jsonDataCount(got > count)} (input '${name}': shape implies ${count} elements but 'data' has ${got})`;
}

/** Decodes the JSON data of one input into a flat typed array (or strings for BYTES). */
function dataFromJson(name: string, dt: Datatype, data: unknown, count: number, tag: triton.RequestTag): TensorData {
  if (!Array.isArray(data)) throw invalid(`input '${name}': 'data' must be an array`);
  if (dt === 'FP16' || dt === 'BF16') throw invalid(triton.halfFloatAsJson(dt, name));
  const flat = data.length === count && (count === 0 || !Array.isArray(data[0]));
  const got = flat ? data.length : countLeaves(data);
  if (got !== count) throw invalid(countMismatch(name, dt, count, got, tag));
  if (dt === 'BYTES') {
    const out: string[] = [];
    fillStrings(name, out, data);
    if (out.length !== count) throw invalid(countMismatch(name, dt, count, out.length, tag));
    return out;
  }
  const out = new ARRAY_OF[dt](count) as NumericArray;
  const filled = fillNumeric(name, dt, out, data, 0);
  if (filled !== count) throw invalid(countMismatch(name, dt, count, filled, tag));
  return out;
}

function decodeInput(raw: unknown, index: number, binary: BinarySection | undefined, tag: triton.RequestTag): Tensor {
  if (!isObject(raw)) throw invalid(`inputs[${index}] must be an object`);
  const name = raw.name;
  if (typeof name !== 'string' || name === '') throw invalid(`inputs[${index}]: 'name' must be a non-empty string`);
  if (!isDatatype(raw.datatype)) {
    throw invalid(`input '${name}': unknown datatype ${JSON.stringify(raw.datatype)}`);
  }
  const datatype = raw.datatype;
  const shape = parseShape(raw.shape, name);
  const parameters = parseParameters(raw.parameters, `input '${name}'`);
  const count = elementCount(shape);
  const binarySize = parameters?.binary_data_size;
  let data: TensorData;
  if (binarySize !== undefined) {
    if (!binary) throw invalid(triton.binaryWithoutHeader());
    if (!Number.isSafeInteger(binarySize) || (binarySize as number) < 0) {
      throw invalid(`input '${name}': binary_data_size must be a non-negative integer`);
    }
    const end = binary.offset + (binarySize as number);
    if (end > binary.bytes.byteLength) throw invalid(triton.binaryShort(tag, name, end - binary.bytes.byteLength));
    data = tensorDataFromRaw(name, datatype, binary.bytes.subarray(binary.offset, end), count, tag);
    binary.offset = end;
    if (raw.data !== undefined) throw invalid(`input '${name}': has both binary_data_size and 'data'`);
  } else {
    data = dataFromJson(name, datatype, raw.data, count, tag);
  }
  return { name, datatype, shape, data, parameters };
}

function decodeOutputs(raw: unknown): RequestedOutput[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) throw invalid(`'outputs' must be an array`);
  return raw.map((o, i) => {
    if (!isObject(o) || typeof o.name !== 'string') throw invalid(`outputs[${i}] must be an object with a 'name'`);
    return { name: o.name, parameters: parseParameters(o.parameters, `output '${o.name}'`) };
  });
}

/**
 * Decodes an OIP v2 JSON inference request; binary holds the bytes after a binary-extension
 * header, and model (from the URL) is named in Triton's error texts.
 */
export function decodeInferRequest(body: unknown, binary?: BinarySection, model = ''): InferRequest {
  if (!isObject(body)) throw invalid('request body must be a JSON object');
  if (body.id !== undefined && typeof body.id !== 'string') throw invalid(`'id' must be a string`);
  if (!Array.isArray(body.inputs) || body.inputs.length === 0) throw invalid(`'inputs' must be a non-empty array`);
  const tag = { model, id: body.id as string | undefined };
  const inputs = body.inputs.map((raw, i) => decodeInput(raw, i, binary, tag));
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
