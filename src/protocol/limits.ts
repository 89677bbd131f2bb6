import { clip } from './clip.js';
import { formatShape } from './datatypes.js';
import { invalid } from './errors.js';

/**
 * Limits the decoders check before they allocate anything for a request: a shape is
 * only a few bytes on the wire but may imply billions of elements, so the element count
 * is bounded first and then checked against the bytes actually present.
 */
export interface DecodeLimits {
  /** Most tensor elements one request may carry, all its inputs together (--max-request-elements). */
  maxElements: number;
}

/**
 * 16 Mi elements: a batch of 64 images of 3x224x224 is 9.6 M. Each element costs at least
 * one byte on the wire (a BYTES element at least its 4-byte length), so the body and message
 * size limits bound real requests before this does; it stops a shape from making the main
 * thread allocate more than that before those checks can run.
 */
export const DEFAULT_MAX_ELEMENTS = 16 * 1024 * 1024;

/** Most dimensions a shape may have (numpy's limit); nested JSON data is no deeper than its shape. */
export const MAX_RANK = 64;

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxElements: DEFAULT_MAX_ELEMENTS };

/** Smallest wire size of one BYTES element: its 4-byte little-endian length. */
export const BYTES_ELEMENT_MIN = 4;

/**
 * The element count a shape implies, refused (invalid_argument) before any allocation when
 * the shape has too many dimensions, or the count passes what is left of the request's
 * budget (`used` elements already taken by earlier inputs).
 */
export function checkedElementCount(name: string, shape: readonly number[], used: number, limits: DecodeLimits): number {
  if (shape.length > MAX_RANK) {
    throw invalid(`input '${clip(name)}': shape has ${shape.length} dimensions, more than the ${MAX_RANK} allowed`);
  }
  const left = limits.maxElements - used;
  let n = 1;
  for (const d of shape) n *= d;
  // n is exact while it stays a safe integer; beyond that it is only compared, never used.
  if (n > left || !Number.isSafeInteger(n)) {
    const shown = clip(formatShape(shape));
    const count = Number.isSafeInteger(n) ? String(n) : 'more than 2^53';
    const others = used > 0 ? ` (${used} already taken by the request's other inputs)` : '';
    throw invalid(
      `input '${clip(name)}': shape ${shown} implies ${count} elements, over the server's limit of ${limits.maxElements} per request${others} (--max-request-elements)`,
    );
  }
  return n;
}
