import { clip, clipJson } from '../../protocol/clip.js';
import { ARRAY_OF, type Datatype, INT_RANGE, type NumericArray, formatShape, isDatatype } from '../../protocol/datatypes.js';
import { invalid } from '../../protocol/errors.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits, checkedElementCount } from '../../protocol/limits.js';
import { rawFromTensorData, tensorDataFromRaw } from '../../protocol/raw-codec.js';
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
function dataFromContents(name: string, dt: Datatype, shape: number[], count: number, c: InferTensorContentsMsg, fields: ContentsField[]): TensorData {
  const want = FIELD_OF[dt];
  if (want === undefined) {
    throw invalid(`input '${clip(name)}': ${dt} has no typed contents field; send it in raw_input_contents`);
  }
  const wrong = fields.find((f) => f !== want);
  if (wrong) throw invalid(`input '${clip(name)}': ${dt} data must be in contents.${want}, got contents.${wrong}`);
  const values = (c[want] ?? []) as unknown[];
  if (values.length !== count) {
    throw invalid(`input '${clip(name)}': shape ${clip(formatShape(shape))} implies ${count} elements but contents.${want} has ${values.length}`);
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

/** Decodes one input; its shape's element count is bounded before its data is looked at. */
function decodeInput(t: InferInputTensorMsg, index: number, raw: Uint8Array | undefined, used: number, limits: DecodeLimits): Tensor {
  const name = t.name;
  if (!name) throw invalid(`inputs[${index}]: 'name' must be a non-empty string`);
  if (!isDatatype(t.datatype)) throw invalid(`input '${clip(name)}': unknown datatype ${clipJson(t.datatype)}`);
  const datatype = t.datatype;
  const shape = parseShape(name, t.shape);
  const count = checkedElementCount(name, shape, used, limits);
  const parameters = parametersFromProto(t.parameters, `input '${clip(name)}'`);
  const fields = setFields(t.contents);
  let data: TensorData;
  if (raw !== undefined) {
    if (fields.length > 0) {
      throw invalid(`input '${clip(name)}': has contents.${fields[0]} but the request uses raw_input_contents; use one or the other for all inputs`);
    }
    data = tensorDataFromRaw(name, datatype, raw, count);
  } else if (fields.length === 0 && count > 0) {
    const field = FIELD_OF[datatype];
    throw invalid(`input '${clip(name)}': no data; send it in ${field ? `contents.${field} or ` : ''}raw_input_contents`);
  } else {
    data = dataFromContents(name, datatype, shape, count, t.contents ?? {}, fields);
  }
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
  if (raw.length > 0 && raw.length !== inputs.length) {
    throw invalid(`raw_input_contents has ${raw.length} entries but the request has ${inputs.length} inputs; give one per input, in input order`);
  }
  let used = 0;
  return {
    id: msg.id || undefined,
    inputs: inputs.map((t, i) => {
      const tensor = decodeInput(t, i, raw.length > 0 ? raw[i] : undefined, used, limits);
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
