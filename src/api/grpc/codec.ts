import { clip, clipJson } from '../../protocol/clip.js';
import { ARRAY_OF, type Datatype, INT_RANGE, type NumericArray, elementSize, isDatatype } from '../../protocol/datatypes.js';
import { invalid } from '../../protocol/errors.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits, checkedElementCount } from '../../protocol/limits.js';
import { rawFromTensorData, tensorDataFromRaw } from '../../protocol/raw-codec.js';
import * as triton from '../../protocol/triton-errors.js';
import type { InferRequest, InferResponse, Parameters, Tensor, TensorData } from '../../protocol/types.js';
import type {
  InferInputTensorMsg, InferParameterMsg, InferTensorContentsMsg, Long, ModelInferRequestMsg, ModelInferResponseMsg, ParameterMap,
} from './proto.js';

/** ModelInferRequest / ModelInferResponse <-> the dataplane's protocol-neutral request and response. */

type ContentsField = keyof InferTensorContentsMsg;

const CONTENTS_FIELDS: ContentsField[] = [
  'bool_contents', 'int_contents', 'int64_contents', 'uint_contents', 'uint64_contents',
  'fp32_contents', 'fp64_contents', 'bytes_contents',
];

/** The datatype Triton reads a contents field as (narrow integers travel in the 32-bit fields). */
function contentsType(field: ContentsField, declared: Datatype): Datatype {
  if (field === 'int_contents') return declared === 'INT8' || declared === 'INT16' ? declared : 'INT32';
  if (field === 'uint_contents') return declared === 'UINT8' || declared === 'UINT16' ? declared : 'UINT32';
  const of: Record<ContentsField, Datatype> = {
    bool_contents: 'BOOL', int_contents: 'INT32', int64_contents: 'INT64', uint_contents: 'UINT32',
    uint64_contents: 'UINT64', fp32_contents: 'FP32', fp64_contents: 'FP64', bytes_contents: 'BYTES',
  };
  return of[field];
}

/** The typed-contents field each datatype travels in (Triton's rules); FP16/BF16 only go raw. */
const FIELD_OF: Record<Datatype, ContentsField | undefined> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents',
  UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents',
  FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents',
  FP16: undefined, BF16: undefined,
};


/** The one set field of an InferParameter as a plain value; int64 beyond 2^53 is refused, not rounded. */
function paramValue(key: string, p: InferParameterMsg, where: string): string | number | boolean {
  switch (p.parameter_choice) {
    case 'bool_param': return p.bool_param === true;
    case 'string_param': return p.string_param ?? '';
    case 'double_param': return p.double_param ?? 0;
    case 'int64_param':
    case 'uint64_param': {
      const n = Number(p[p.parameter_choice] ?? 0);
      if (!Number.isSafeInteger(n)) throw invalid(`${where}: parameter '${clip(key)}' value ${clip(String(p[p.parameter_choice]))} is outside the safe integer range`);
      return n;
    }
    default: throw invalid(`${where}: parameter '${clip(key)}' has no value set`);
  }
}

/** map<string, InferParameter> -> the plain Parameters object the dataplane reads (priority, timeout, ...). */
export function parametersFromProto(map: ParameterMap | undefined, where: string): Parameters | undefined {
  if (!map) return undefined;
  const keys = Object.keys(map);
  if (keys.length === 0) return undefined;
  const out: Parameters = {};
  for (const k of keys) out[k] = paramValue(k, map[k], where);
  return out;
}

/** Plain Parameters -> map<string, InferParameter>: integers as int64, other numbers as double. */
export function parametersToProto(params: Parameters | undefined): ParameterMap {
  const out: ParameterMap = {};
  if (!params) return out;
  for (const [k, v] of Object.entries(params)) {
    if (typeof v === 'boolean') out[k] = { bool_param: v };
    else if (typeof v === 'string') out[k] = { string_param: v };
    else if (Number.isSafeInteger(v)) out[k] = { int64_param: v };
    else out[k] = { double_param: v };
  }
  return out;
}

function parseShape(name: string, shape: Long[]): number[] {
  const out = new Array<number>(shape.length);
  for (let i = 0; i < shape.length; i++) {
    const d = Number(shape[i]);
    if (!Number.isSafeInteger(d) || d < 0) {
      throw invalid(`input '${clip(name)}': shape must hold non-negative integers, got ${clipJson(shape.map(String))}`);
    }
    out[i] = d;
  }
  return out;
}

/** The names of the contents fields that hold data (proto-loader fills unset repeated fields with []). */
function setFields(c: InferTensorContentsMsg | null | undefined): ContentsField[] {
  if (!c) return [];
  return CONTENTS_FIELDS.filter((f) => (c[f]?.length ?? 0) > 0);
}

/** Typed contents -> typed array (or strings), checking field, count and range. */
function dataFromContents(name: string, dt: Datatype, count: number, c: InferTensorContentsMsg, fields: ContentsField[], tag: triton.RequestTag): TensorData {
  const want = FIELD_OF[dt];
  const wrong = fields.find((f) => f !== want);
  // FP16/BF16 have no field: whatever field holds them is the wrong one, as in Triton.
  if (wrong) throw invalid(triton.wrongContents(tag, clip(name), contentsType(wrong, dt), dt));
  if (want === undefined) throw invalid(triton.noInputData(tag, clip(name)));
  const values = (c[want] ?? []) as unknown[];
  if (values.length !== count) {
    throw invalid(dt === 'BYTES' ? triton.stringCount(tag, clip(name), count, values.length) : triton.byteSizeMismatch(tag, clip(name), count * elementSize(dt), values.length * elementSize(dt)));
  }
  if (dt === 'BYTES') {
    const decoder = new TextDecoder();
    return (values as Uint8Array[]).map((b) => decoder.decode(b));
  }
  if (dt === 'INT64' || dt === 'UINT64') {
    const out = new ARRAY_OF[dt](count) as BigInt64Array | BigUint64Array;
    for (let i = 0; i < count; i++) out[i] = BigInt(values[i] as Long);
    return out;
  }
  if (dt === 'BOOL') {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) out[i] = values[i] ? 1 : 0;
    return out;
  }
  // Narrow integers travel in 32-bit fields: range-check them, or they would wrap silently.
  const range = INT_RANGE[dt];
  if (range) {
    for (let i = 0; i < count; i++) {
      const v = values[i] as number;
      if (v < range[0] || v > range[1]) throw invalid(`input '${clip(name)}': element ${i} value ${v} is out of range for ${dt}`);
    }
  }
  // One bulk copy from the decoded number[] into the tensor's own typed array.
  return (ARRAY_OF[dt] as Float32ArrayConstructor).from(values as number[]) as NumericArray;
}

/** One input: from typed contents, or from raw_input_contents[index]; never both (Triton's rules and texts). Its element count is bounded before its data is looked at. */
function decodeInput(t: InferInputTensorMsg, index: number, raw: Uint8Array[], used: number, limits: DecodeLimits, tag: triton.RequestTag): Tensor {
  const name = t.name;
  if (!name) throw invalid(`inputs[${index}]: 'name' must be a non-empty string`);
  if (!isDatatype(t.datatype)) throw invalid(`input '${clip(name)}': unknown datatype ${clipJson(t.datatype)}`);
  const datatype = t.datatype;
  const shape = parseShape(name, t.shape);
  const count = checkedElementCount(name, shape, used, limits);
  const parameters = parametersFromProto(t.parameters, `input '${clip(name)}'`);
  const fields = setFields(t.contents);
  let data: TensorData;
  if (fields.length > 0 && raw.length > 0) throw invalid(triton.contentsWithRaw(tag, clip(name)));
  if (fields.length > 0) data = dataFromContents(name, datatype, count, t.contents ?? {}, fields, tag);
  else if (index < raw.length) data = tensorDataFromRaw(name, datatype, raw[index], count, tag);
  else if (count === 0) data = tensorDataFromRaw(name, datatype, new Uint8Array(0), 0, tag);
  else throw invalid(triton.noInputData(tag, clip(name)));
  return { name, datatype, shape, data, parameters };
}

/**
 * Decodes a ModelInferRequest; all inputs come from raw_input_contents, or all from typed
 * contents. Shapes are bounded by `limits` before any data is converted.
 */
export function decodeModelInferRequest(msg: ModelInferRequestMsg, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): InferRequest {
  const inputs = msg.inputs ?? [];
  if (inputs.length === 0) throw invalid(`request for model '${clip(msg.model_name)}' has no inputs`);
  const raw = msg.raw_input_contents ?? [];
  const tag = { model: clip(msg.model_name), id: msg.id ? clip(msg.id) : undefined };
  if (raw.length > inputs.length) {
    throw invalid(`raw_input_contents has ${raw.length} entries but the request has ${inputs.length} inputs; give one per input, in input order`);
  }
  let used = 0;
  return {
    id: msg.id || undefined,
    inputs: inputs.map((t, i) => {
      const tensor = decodeInput(t, i, raw, used, limits, tag);
      used += tensor.data.length;
      return tensor;
    }),
    outputs: msg.outputs?.length
      ? msg.outputs.map((o) => ({ name: o.name, parameters: parametersFromProto(o.parameters, `output '${clip(o.name)}'`) }))
      : undefined,
    parameters: parametersFromProto(msg.parameters, 'request'),
  };
}

/** Encodes a response the way Triton does by default: tensor data in raw_output_contents (views, no copy). */
export function encodeModelInferResponse(res: InferResponse): ModelInferResponseMsg {
  const outputs = new Array<ModelInferResponseMsg['outputs'][number]>(res.outputs.length);
  const raw = new Array<Uint8Array>(res.outputs.length);
  res.outputs.forEach((t, i) => {
    outputs[i] = { name: t.name, datatype: t.datatype, shape: t.shape, parameters: parametersToProto(t.parameters) };
    raw[i] = rawFromTensorData(t.data);
  });
  return {
    model_name: res.model_name,
    model_version: res.model_version,
    id: res.id ?? '',
    parameters: parametersToProto(res.parameters),
    outputs,
    raw_output_contents: raw,
  };
}
