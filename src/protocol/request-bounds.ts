import { type Datatype, elementSize } from './datatypes.js';
import type { TensorMetadata } from './types.js';

/**
 * The largest valid inference request a model signature allows, for a body limit per model:
 * the 64 MiB server-wide default is ~1,000x the largest valid request of the sample models.
 * The HTTP front end refuses a larger Content-Length before reading the body
 * (core/signature.ts requestByteLimit, api/http/infer-route.ts).
 */

/**
 * Most JSON characters a value of each datatype takes as a usual encoder writes it, with its
 * separator: `false,`, `-2147483648,`, `-2.2250738585072014e-308,` (JSON.stringify's longest
 * float). JSON allows longer spellings (leading zeros, whitespace), hence the margin below.
 */
const JSON_CHARS: Record<Exclude<Datatype, 'BYTES' | 'FP16' | 'BF16'>, number> = {
  BOOL: 6, UINT8: 4, INT8: 5, UINT16: 6, INT16: 7, UINT32: 11, INT32: 12,
  UINT64: 21, INT64: 21, FP32: 25, FP64: 25,
};

/** Room for the request's JSON framing: names, datatypes, shapes, parameters, id. */
export const FRAMING_BYTES = 4096;

/** How much longer than the usual encoding a body may be before it is refused. */
export const JSON_MARGIN = 2;

export interface RequestBound {
  /** Largest body with binary tensor data (Triton's extension) or gRPC raw contents. */
  binaryBytes: number;
  /** Largest JSON body, with the margin. */
  jsonBytes: number;
}

/**
 * The largest valid request for a signature, or undefined when none can be derived: a BYTES
 * input (strings have no length bound) or a dynamic dimension other than the batch axis (an
 * ONNX file does not say how long a sequence may be). maxBatchSize > 0 means the first
 * dimension is the batch axis, at most maxBatchSize.
 */
export function largestRequest(inputs: readonly TensorMetadata[], maxBatchSize: number): RequestBound | undefined {
  let binary = 0;
  let json = 0;
  for (const t of inputs) {
    if (t.datatype === 'BYTES') return undefined;
    const dims = maxBatchSize > 0 ? [maxBatchSize, ...t.shape.slice(1)] : t.shape;
    if (dims.some((d) => d < 0)) return undefined;
    const count = dims.reduce((n, d) => n * d, 1);
    binary += count * elementSize(t.datatype);
    // FP16 and BF16 travel as binary only: their JSON size is their binary size.
    json += count * (t.datatype === 'FP16' || t.datatype === 'BF16' ? 2 : JSON_CHARS[t.datatype]);
  }
  return { binaryBytes: binary + FRAMING_BYTES, jsonBytes: JSON_MARGIN * json + FRAMING_BYTES };
}
