import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/validate.js';
import { ARRAY_OF, type Datatype, type NumericArray, elementCount } from '../protocol/datatypes.js';
import { InferError } from '../protocol/errors.js';
import { decodeInferRequest } from '../protocol/json-codec.js';
import type { InferRequest, ModelMetadata, Tensor, TensorData } from '../protocol/types.js';

/**
 * Where the requests to send come from: a JSON file of OIP v2 requests, or random data
 * shaped from the model's metadata. Both end as decoded InferRequests (typed arrays), which
 * the protocol modules turn into prebuilt wire payloads once, before the load starts.
 */

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Accepts {inputs:[...]}, an array of those, or golden.json's {cases:[{request:{...}}]}. */
export function parseInputData(json: unknown, source = 'input data'): InferRequest[] {
  let raw: unknown[];
  if (Array.isArray(json)) raw = json;
  else if (isObject(json) && Array.isArray(json.cases)) raw = json.cases.map((c) => (isObject(c) ? c.request : c));
  else if (isObject(json) && Array.isArray(json.inputs)) raw = [json];
  else throw new ConfigError(`${source}: expected an OIP v2 request {"inputs":[...]}, an array of them, or {"cases":[{"request":{...}}]}`);
  if (raw.length === 0) throw new ConfigError(`${source}: holds no requests`);
  // The server's own decoder validates shapes/datatypes/data, so a bad file fails here with
  // the same message the server would give, not as N errors under load.
  return raw.map((r, i) => {
    try {
      return decodeInferRequest(r);
    } catch (err) {
      if (err instanceof InferError) throw new ConfigError(`${source}: request ${i}: ${err.message}`);
      throw err;
    }
  });
}

/** Reads and parses --input-data FILE. */
export function readInputData(file: string): InferRequest[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--input-data ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`--input-data ${file}: not valid JSON: ${(err as Error).message}`);
  }
  return parseInputData(json, `--input-data ${file}`);
}

/** Whether the model's inputs have a leading variable (batch) dimension, as Triton reports max_batch_size > 0. */
export function modelBatches(meta: Pick<ModelMetadata, 'inputs'>): boolean {
  return meta.inputs.length > 0 && meta.inputs.every((i) => i.shape.length > 0 && i.shape[0] === -1);
}

/** Random values that are valid for most models: small ints (token ids, classes), floats in [0,1). */
function randomData(dt: Datatype, count: number): TensorData {
  if (dt === 'BYTES') return Array.from({ length: count }, () => Math.random().toString(36).slice(2, 10));
  const out = new ARRAY_OF[dt](count) as NumericArray;
  for (let i = 0; i < count; i++) {
    const r = Math.random();
    if (dt === 'FP32' || dt === 'FP64') out[i] = r;
    else if (dt === 'FP16') out[i] = 0x3c00 - Math.floor(r * 0x400); // (0.5, 1] in half precision
    else if (dt === 'BF16') out[i] = 0x3f80 - Math.floor(r * 0x80);
    else if (dt === 'BOOL') out[i] = r < 0.5 ? 0 : 1;
    else if (dt === 'INT64' || dt === 'UINT64') (out as BigInt64Array)[i] = BigInt(Math.floor(r * 100));
    else out[i] = Math.floor(r * 100);
  }
  return out;
}

/** The concrete shape to send for one input: batch dim from batchSize, the rest from metadata or --shape. */
export function concreteShape(name: string, metaShape: number[], batched: boolean, batchSize: number, given?: number[]): number[] {
  const inner = batched ? metaShape.slice(1) : metaShape;
  let dims: number[];
  if (given) {
    if (given.length !== inner.length) {
      throw new ConfigError(`--shape ${name}:${given.join(',')} has ${given.length} dims but the model's input has ${inner.length} (${JSON.stringify(metaShape)}${batched ? ', batch dim excluded' : ''})`);
    }
    given.forEach((d, i) => {
      if (inner[i] !== -1 && inner[i] !== d) throw new ConfigError(`--shape ${name}: dim ${i} is fixed at ${inner[i]} by the model, got ${d}`);
    });
    dims = given;
  } else {
    if (inner.some((d) => d < 0)) {
      throw new ConfigError(`input '${name}' has variable dims ${JSON.stringify(metaShape)}: give them with --shape ${name}:${inner.map((d) => (d < 0 ? 'N' : d)).join(',')}`);
    }
    dims = inner;
  }
  if (!batched && batchSize > 1) throw new ConfigError(`the model has no batch dimension (input '${name}' is ${JSON.stringify(metaShape)}): --batch-size must be 1`);
  return batched ? [batchSize, ...dims] : dims;
}

/** One random request shaped from the model's metadata. */
export function randomRequest(meta: Pick<ModelMetadata, 'name' | 'inputs'>, shapes: Record<string, number[]>, batchSize: number): InferRequest {
  const batched = modelBatches(meta);
  for (const name of Object.keys(shapes)) {
    if (!meta.inputs.some((i) => i.name === name)) {
      throw new ConfigError(`--shape ${name}: model '${meta.name}' has no input '${name}' (inputs: ${meta.inputs.map((i) => i.name).join(', ')})`);
    }
  }
  const inputs: Tensor[] = meta.inputs.map((i) => {
    const shape = concreteShape(i.name, i.shape, batched, batchSize, shapes[i.name]);
    return { name: i.name, datatype: i.datatype, shape, data: randomData(i.datatype, elementCount(shape)) };
  });
  return { inputs };
}

/** Repeats a one-row request's rows to fill --batch-size (input data is usually one row per request). */
export function tileBatch(req: InferRequest, batchSize: number): InferRequest {
  if (batchSize === 1) return req;
  const inputs = req.inputs.map((t) => {
    if (t.shape[0] !== 1) {
      throw new ConfigError(`--batch-size ${batchSize} with --input-data needs one-row requests, but input '${t.name}' has shape ${JSON.stringify(t.shape)}`);
    }
    const n = t.data.length;
    let data: TensorData;
    if (Array.isArray(t.data)) {
      data = Array.from({ length: n * batchSize }, (_, i) => t.data[i % n]) as TensorData;
    } else {
      const src = t.data as NumericArray;
      const out = new (src.constructor as new (n: number) => NumericArray)(n * batchSize);
      for (let b = 0; b < batchSize; b++) (out as Uint8Array).set(src as Uint8Array, b * n);
      data = out;
    }
    return { ...t, shape: [batchSize, ...t.shape.slice(1)], data };
  });
  return { ...req, inputs };
}

/** Rows (inferences) one request carries: its batch dim when the model batches, else 1. */
export function rowsOf(req: InferRequest, batched: boolean): number {
  return batched && req.inputs.length > 0 && req.inputs[0].shape.length > 0 ? req.inputs[0].shape[0] : 1;
}
