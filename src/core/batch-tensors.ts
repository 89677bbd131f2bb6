import { ARRAY_OF, type Datatype, type NumericArray, elementCount } from '../protocol/datatypes.js';
import type { Tensor, TensorData } from '../protocol/types.js';

/**
 * Joins requests' rows into batch tensors and slices batch outputs back per request.
 * Pure functions: no request ever sees another's rows because every slice is computed
 * from that request's own row offset and count.
 */

/** Concatenates along the batch axis the same-named input of each request. */
export function concatRows(parts: Tensor[]): TensorData {
  if (parts.length === 1) return ownedCopy(parts[0].data);
  const first = parts[0];
  if (Array.isArray(first.data)) {
    return parts.flatMap((p) => p.data as string[]);
  }
  const total = parts.reduce((n, p) => n + (p.data as NumericArray).length, 0);
  const out = new ARRAY_OF[first.datatype as Exclude<Datatype, 'BYTES'>](total) as NumericArray;
  let off = 0;
  for (const p of parts) {
    const d = p.data as NumericArray;
    (out as Float32Array).set(d as Float32Array, off);
    off += d.length;
  }
  return out;
}

/**
 * A view into a larger buffer (binary request bodies) is copied out: crossing to a worker,
 * transfer would detach the whole buffer and structured clone would copy all of it.
 */
function ownedCopy(data: TensorData): TensorData {
  if (Array.isArray(data)) return data;
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !(data.buffer instanceof SharedArrayBuffer)) {
    return data;
  }
  return data.slice() as NumericArray;
}

/** Slices rows [start, start + count) of a batch output; numeric data is a view, not a copy. */
export function sliceRows(data: TensorData, dims: number[], start: number, count: number): TensorData {
  const perRow = elementCount(dims.slice(1));
  const from = start * perRow;
  const to = from + count * perRow;
  return Array.isArray(data) ? data.slice(from, to) : (data.subarray(from, to) as NumericArray);
}
