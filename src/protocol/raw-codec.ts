import { ARRAY_OF, type Datatype, type NumericArray, elementSize } from './datatypes.js';
import { clip } from './clip.js';
import { invalid } from './errors.js';
import { type RequestTag, byteSizeMismatch, incompleteStringLength, stringCount } from './triton-errors.js';
import { BYTES_ELEMENT_MIN } from './limits.js';
import type { TensorData } from './types.js';

/**
 * Raw tensor bytes (Triton's binary data extension, gRPC raw_*_contents) <-> tensor data.
 * Fixed-size types are little-endian, row-major; BYTES elements are each a 4-byte
 * little-endian length followed by the bytes.
 */

/**
 * Decodes raw bytes into tensor data; a view (no copy) where the bytes are aligned. The
 * byte count is checked against the element count before anything is allocated; `tag` names
 * the request in Triton's error texts.
 */
export function tensorDataFromRaw(name: string, dt: Datatype, bytes: Uint8Array, count: number, tag: RequestTag): TensorData {
  if (dt === 'BYTES') return stringsFromRaw(name, bytes, count, tag);
  const size = elementSize(dt);
  if (bytes.byteLength !== count * size) throw invalid(byteSizeMismatch(tag, clip(name), count * size, bytes.byteLength));
  const Ctor = ARRAY_OF[dt];
  if (bytes.byteOffset % size === 0) return new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, count) as NumericArray;
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Ctor(copy.buffer, 0, count) as NumericArray;
}

/** Length-prefixed strings; a short or over-long buffer fails with Triton's text (element counts, length indicator). */
function stringsFromRaw(name: string, bytes: Uint8Array, count: number, tag: RequestTag): string[] {
  // Each element carries at least its 4-byte length: too few bytes is known before allocating.
  if (count * BYTES_ELEMENT_MIN > bytes.byteLength) {
    throw invalid(`${stringCount(tag, clip(name), count, Math.floor(bytes.byteLength / BYTES_ELEMENT_MIN))} (${count} BYTES elements need at least ${count * BYTES_ELEMENT_MIN} bytes, a 4-byte length each; got ${bytes.byteLength})`);
  }
  const out: string[] = new Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder();
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (off === bytes.byteLength) throw invalid(stringCount(tag, clip(name), count, i));
    if (off + 4 > bytes.byteLength) throw invalid(incompleteStringLength(tag, clip(name), bytes.byteLength - off));
    const len = view.getUint32(off, true);
    off += 4;
    if (off + len > bytes.byteLength) {
      throw invalid(`input '${clip(name)}' for model '${tag.model}': BYTES element ${i} claims ${len} bytes, past the end of its data`);
    }
    out[i] = decoder.decode(bytes.subarray(off, off + len));
    off += len;
  }
  const left = bytes.byteLength - off;
  if (left > 0) throw invalid(left < 4 ? incompleteStringLength(tag, clip(name), left) : stringCount(tag, clip(name), count, count + 1));
  return out;
}

/** Encodes tensor data as raw bytes; numeric data is returned as a view, not copied. */
export function rawFromTensorData(data: TensorData): Uint8Array {
  if (Array.isArray(data)) {
    const parts = data.map((s) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s));
    const total = parts.reduce((n, p) => n + 4 + p.byteLength, 0);
    const out = Buffer.allocUnsafe(total);
    let off = 0;
    for (const p of parts) {
      out.writeUInt32LE(p.byteLength, off);
      out.set(p, off + 4);
      off += 4 + p.byteLength;
    }
    return out;
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
