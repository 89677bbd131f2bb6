import { type NumericArray, elementCount, elementSize } from '../protocol/datatypes.js';
import { invalid } from '../protocol/errors.js';
import * as triton from '../protocol/triton-errors.js';
import { clip } from '../protocol/clip.js';
import { largestRequest } from '../protocol/request-bounds.js';
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

/**
 * Checks a request against the model in Triton's order, with Triton's messages (see
 * protocol/triton-errors.ts): duplicate names, requested outputs, the number and names of the
 * inputs, the batch dimension, then each input's datatype, shape and data size.
 */
export function checkRequest(sig: Signature, req: InferRequest): CheckedRequest {
  const tag = { model: sig.name, id: req.id === undefined ? undefined : clip(req.id) };
  const byName = new Map<string, Tensor>();
  for (const t of req.inputs) {
    if (byName.has(t.name)) throw invalid(triton.duplicateInput(tag, clip(t.name)));
    byName.set(t.name, t);
  }
  const wanted = requestedOutputs(sig, req, tag);

  if (byName.size !== sig.inputs.length) throw invalid(triton.inputCount(tag, sig.inputs.map((m) => m.name), [...byName.keys()].map((n) => clip(n))));
  for (const m of sig.inputs) {
    if (byName.has(m.name)) continue;
    // As many names as the model has, so one of them is not the model's.
    const extra = [...byName.keys()].find((n) => !sig.inputs.some((i) => i.name === n))!;
    throw invalid(triton.unexpectedInput(tag, clip(extra)));
  }

  const batching = sig.maxBatchSize > 0;
  let rows = 1;
  if (batching) {
    let first = true;
    for (const t of byName.values()) {
      if (t.shape.length === 0) throw invalid(triton.noShape(tag, clip(t.name)));
      if (first) rows = t.shape[0];
      else if (t.shape[0] !== rows) throw invalid(triton.batchMismatch(tag, clip(t.name)));
      first = false;
    }
    if (rows > sig.maxBatchSize) throw invalid(triton.batchTooLarge(tag, sig.maxBatchSize));
    if (rows < 1) throw invalid(`input '${clip(req.inputs[0].name)}': the batch dimension (first) must be at least 1 for model '${sig.name}'`);
  }

  let shapeKey = '';
  const inputs = sig.inputs.map((m) => {
    const t = byName.get(m.name)!;
    if (t.datatype !== m.datatype) throw invalid(triton.dataTypeMismatch(tag, m.name, t.datatype, m.datatype));
    const fits = t.shape.length === m.shape.length && t.shape.every((d, i) => m.shape[i] === -1 || m.shape[i] === d);
    if (!fits) throw invalid(triton.shapeMismatch(tag, m.name, m.shape, t.shape, batching));
    const count = Array.isArray(t.data) ? t.data.length : (t.data as NumericArray).length;
    const expected = elementCount(t.shape);
    if (count !== expected) {
      throw invalid(t.datatype === 'BYTES'
        ? triton.stringCount(tag, m.name, expected, count)
        : triton.byteSizeMismatch(tag, m.name, expected * elementSize(t.datatype), count * elementSize(t.datatype)));
    }
    shapeKey += (batching ? t.shape.slice(1) : t.shape).join('x') + ';';
    return t;
  });
  return { inputs, rows, shapeKey, wanted };
}

/** The outputs a request names, or undefined for all of them (the common case, no work). */
function requestedOutputs(sig: Signature, req: InferRequest, tag: triton.RequestTag): Set<string> | undefined {
  if (!req.outputs || req.outputs.length === 0) return undefined;
  const wanted = new Set<string>();
  for (const o of req.outputs) {
    if (wanted.has(o.name)) throw invalid(triton.duplicateOutput(tag, clip(o.name)));
    wanted.add(o.name);
  }
  for (const name of wanted) {
    if (!sig.outputs.some((o) => o.name === name)) throw invalid(triton.unexpectedOutput(tag, clip(name)));
  }
  return wanted;
}

/**
 * The largest body a valid request to this model can need, JSON or binary (its largest batch
 * of every input; protocol/request-bounds.ts). Undefined when the signature cannot bound it
 * (BYTES inputs, dynamic non-batch dimensions): the server's body limit applies then.
 */
export function requestByteLimit(sig: Signature): number | undefined {
  // JSON is never the smaller spelling, so its bound covers binary bodies too.
  return largestRequest(sig.inputs, sig.maxBatchSize)?.jsonBytes;
}
