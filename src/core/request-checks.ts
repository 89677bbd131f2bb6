import { type NumericArray, elementCount, elementSize } from '../protocol/datatypes.js';
import { invalid } from '../protocol/errors.js';
import * as triton from '../protocol/triton-errors.js';
import type { InferRequest, Tensor, TensorMetadata } from '../protocol/types.js';

/** What a request is checked against: a loaded version's name, tensors and batching. */
export interface ModelSignature {
  name: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  maxBatchSize: number;
}

/** A request that fits the model: inputs in model order, its rows, what it may share a batch by, and the outputs it wants. */
export interface CheckedRequest {
  ordered: Tensor[];
  rows: number;
  /** Requests share a batch only when these agree (their non-batch dimensions). */
  shapeKey: string;
  /** The outputs asked for, or undefined for all of them (the common case, no work). */
  wanted: Set<string> | undefined;
}

/**
 * Checks a request against the model in Triton's order, with Triton's messages (see
 * protocol/triton-errors.ts): duplicate names, requested outputs, the number and names of the
 * inputs, the batch dimension, then each input's datatype, shape and data size.
 */
export function checkInferRequest(model: ModelSignature, req: InferRequest): CheckedRequest {
  const tag = { model: model.name, id: req.id };
  const byName = new Map<string, Tensor>();
  for (const t of req.inputs) {
    if (byName.has(t.name)) throw invalid(triton.duplicateInput(tag, t.name));
    byName.set(t.name, t);
  }
  const wanted = requestedOutputs(model, req, tag);

  if (byName.size !== model.inputs.length) throw invalid(triton.inputCount(tag, model.inputs.map((m) => m.name), [...byName.keys()]));
  for (const m of model.inputs) {
    if (byName.has(m.name)) continue;
    // As many names as the model has, so one of them is not the model's.
    const extra = [...byName.keys()].find((n) => !model.inputs.some((i) => i.name === n))!;
    throw invalid(triton.unexpectedInput(tag, extra));
  }

  const batching = model.maxBatchSize > 0;
  let rows = 1;
  if (batching) {
    let first = true;
    for (const t of byName.values()) {
      if (t.shape.length === 0) throw invalid(triton.noShape(tag, t.name));
      if (first) rows = t.shape[0];
      else if (t.shape[0] !== rows) throw invalid(triton.batchMismatch(tag, t.name));
      first = false;
    }
    if (rows > model.maxBatchSize) throw invalid(triton.batchTooLarge(tag, model.maxBatchSize));
    if (rows < 1) throw invalid(`input '${req.inputs[0].name}': the batch dimension (first) must be at least 1 for model '${model.name}'`);
  }

  let shapeKey = '';
  const ordered = model.inputs.map((m) => {
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
  return { ordered, rows, shapeKey, wanted };
}

function requestedOutputs(model: ModelSignature, req: InferRequest, tag: triton.RequestTag): Set<string> | undefined {
  if (!req.outputs || req.outputs.length === 0) return undefined;
  const wanted = new Set<string>();
  for (const o of req.outputs) {
    if (wanted.has(o.name)) throw invalid(triton.duplicateOutput(tag, o.name));
    wanted.add(o.name);
  }
  for (const name of wanted) {
    if (!model.outputs.some((o) => o.name === name)) throw invalid(triton.unexpectedOutput(tag, name));
  }
  return wanted;
}
