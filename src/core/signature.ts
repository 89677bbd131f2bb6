import { type NumericArray, elementCount, formatShape } from '../protocol/datatypes.js';
import { invalid } from '../protocol/errors.js';
import type { InferRequest, Tensor, TensorMetadata } from '../protocol/types.js';

/** What a request is checked against: a model version's inputs, outputs and batching. */
export interface Signature {
  readonly name: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
  /** 0 when the model does not batch. */
  readonly maxBatchSize: number;
}

/** A request checked against its model: inputs in model order, its rows, and its batch key. */
export interface CheckedRequest {
  inputs: Tensor[];
  /** Rows it adds to a batch (its batch dimension; 1 when the model does not batch). */
  rows: number;
  /** Requests share a batch only when these agree (the non-batch dimensions of every input). */
  shapeKey: string;
  /** The outputs the request names, or undefined for all of them. */
  wanted: Set<string> | undefined;
}

/** Checks names, datatypes and shapes of a request's inputs and the outputs it asks for. */
export function checkRequest(sig: Signature, req: InferRequest): CheckedRequest {
  const wanted = requestedOutputs(sig, req);
  return { ...checkInputs(sig, req.inputs), wanted };
}

/** The outputs a request names, or undefined for all of them (the common case, no work). */
export function requestedOutputs(sig: Signature, req: InferRequest): Set<string> | undefined {
  if (!req.outputs || req.outputs.length === 0) return undefined;
  const known = new Set(sig.outputs.map((o) => o.name));
  const wanted = new Set<string>();
  for (const o of req.outputs) {
    if (!known.has(o.name)) {
      throw invalid(`unknown output '${o.name}' requested for model '${sig.name}'; its outputs are ${[...known].join(', ')}`);
    }
    if (wanted.has(o.name)) throw invalid(`output '${o.name}' is requested twice`);
    wanted.add(o.name);
  }
  return wanted;
}

/** Checks inputs against the signature; returns them in model order with the batch rows and key. */
export function checkInputs(sig: Signature, given: readonly Tensor[]): Omit<CheckedRequest, 'wanted'> {
  const byName = new Map<string, Tensor>();
  for (const t of given) {
    if (byName.has(t.name)) throw invalid(`input '${t.name}' is given twice`);
    byName.set(t.name, t);
  }
  const batching = sig.maxBatchSize > 0;
  let rows = 1;
  let rowsFrom = '';
  let shapeKey = '';
  const inputs = sig.inputs.map((m) => {
    const t = byName.get(m.name);
    if (!t) throw invalid(`missing input '${m.name}' (${m.datatype} ${formatShape(m.shape)}) for model '${sig.name}'`);
    byName.delete(m.name);
    if (t.datatype !== m.datatype) {
      throw invalid(`input '${m.name}': datatype ${t.datatype} does not match the model's ${m.datatype}`);
    }
    const fits = t.shape.length === m.shape.length && t.shape.every((d, i) => m.shape[i] === -1 || m.shape[i] === d);
    if (!fits) throw invalid(`input '${m.name}': shape ${formatShape(t.shape)} does not match the model's ${formatShape(m.shape)}`);
    const count = Array.isArray(t.data) ? t.data.length : (t.data as NumericArray).length;
    if (count !== elementCount(t.shape)) {
      throw invalid(`input '${m.name}': shape ${formatShape(t.shape)} implies ${elementCount(t.shape)} elements, data has ${count}`);
    }
    if (batching) {
      if (t.shape[0] < 1) throw invalid(`input '${m.name}': batch dimension must be at least 1`);
      if (rowsFrom === '') {
        rows = t.shape[0];
        rowsFrom = m.name;
      } else if (t.shape[0] !== rows) {
        throw invalid(`inputs disagree on the batch dimension: '${rowsFrom}' has ${rows} rows, '${m.name}' has ${t.shape[0]}`);
      }
      shapeKey += t.shape.slice(1).join('x') + ';';
    } else {
      shapeKey += t.shape.join('x') + ';';
    }
    return t;
  });
  if (byName.size > 0) {
    const extra = [...byName.keys()][0];
    throw invalid(`unexpected input '${extra}' for model '${sig.name}'; its inputs are ${sig.inputs.map((i) => i.name).join(', ')}`);
  }
  return { inputs, rows, shapeKey };
}

/** JSON characters one element may take, generously (`-2.2250738585072014e-308, ` plus indentation). */
const JSON_CHARS_PER_ELEMENT = 64;
/** Room for the request's names, parameters and formatting beside the data. */
const REQUEST_OVERHEAD_BYTES = 64 * 1024;

/**
 * The largest body a valid request to this model can need, JSON or binary: its largest batch
 * of every input, with generous room per element. Undefined when the signature cannot bound
 * it (BYTES inputs, dynamic non-batch dimensions): the server's body limit applies then.
 */
export function requestByteLimit(sig: Signature): number | undefined {
  const rows = Math.max(1, sig.maxBatchSize);
  let elements = 0;
  for (const t of sig.inputs) {
    if (t.datatype === 'BYTES') return undefined;
    const dims = sig.maxBatchSize > 0 ? t.shape.slice(1) : t.shape;
    if (dims.some((d) => d < 0)) return undefined;
    elements += rows * dims.reduce((n, d) => n * d, 1);
  }
  return elements * JSON_CHARS_PER_ELEMENT + REQUEST_OVERHEAD_BYTES;
}
