import type { Datatype } from '../protocol/datatypes.js';

/**
 * Values as the monitor holds them: every numeric datatype as a JS number (at the input's
 * precision), BYTES as strings. Shared by the reference loader and the live path.
 */

/** Cell texts pandas reads as missing by default (read_csv's na_values). */
export const MISSING_CELLS: ReadonlySet<string> = new Set([
  '', '#N/A', '#N/A N/A', '#NA', '-1.#IND', '-1.#QNAN', '-NaN', '-nan', '1.#IND', '1.#QNAN', '<NA>', 'N/A', 'NA', 'NULL',
  'NaN', 'None', 'n/a', 'nan', 'null',
]);

const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A CSV cell as a number: NaN for a missing cell, +-Infinity for inf; undefined when it is no number. */
export function parseNumberCell(cell: string): number | undefined {
  const t = cell.trim();
  if (MISSING_CELLS.has(t)) return NaN;
  const lower = t.toLowerCase();
  if (lower === 'inf' || lower === '+inf' || lower === 'infinity' || lower === '+infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  if (lower === 'true') return 1;
  if (lower === 'false') return 0;
  return NUMBER_RE.test(t) ? Number(t) : undefined;
}

/** Whether a datatype's values are floating point (numerical columns whatever their spread). */
export function isFloat(dt: Datatype): boolean {
  return dt === 'FP16' || dt === 'FP32' || dt === 'FP64' || dt === 'BF16';
}

const INT_LIMITS: Partial<Record<Datatype, [number, number]>> = {
  BOOL: [0, 1], UINT8: [0, 255], UINT16: [0, 65535], UINT32: [0, 4294967295], UINT64: [0, Number.MAX_SAFE_INTEGER],
  INT8: [-128, 127], INT16: [-32768, 32767], INT32: [-2147483648, 2147483647],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/** Rounds x to the nearest value with `mantissa` fraction bits and minimum exponent `minExp` (half to even). */
function roundToFormat(x: number, mantissa: number, minExp: number, max: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  // log2 may round across a power of two.
  if (2 ** e > a) e -= 1;
  else if (2 ** (e + 1) <= a) e += 1;
  e = Math.max(e, minExp);
  const ulp = 2 ** (e - mantissa);
  const q = a / ulp;
  let r = Math.round(q);
  if (r - q === 0.5 && r % 2 !== 0) r -= 1;
  const y = r * ulp;
  return Math.sign(x) * (y > max ? Infinity : y);
}

/**
 * A reference value converted to the input's datatype, so reference and live rows are compared
 * at the same precision; undefined when the datatype cannot hold it (an integer input given 2.5).
 */
export function toDatatype(x: number, dt: Datatype): number | undefined {
  if (Number.isNaN(x)) return x;
  switch (dt) {
    case 'FP64':
      return x;
    case 'FP32':
      return Math.fround(x);
    case 'FP16':
      return roundToFormat(x, 10, -14, 65504);
    case 'BF16':
      return roundToFormat(x, 7, -126, 3.3895313892515355e38);
    default: {
      const lim = INT_LIMITS[dt];
      if (!lim || !Number.isInteger(x) || x < lim[0] || x > lim[1]) return undefined;
      return x;
    }
  }
}

/** IEEE half-precision bits to a number. */
export function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const BF16_VIEW = new Float32Array(1);
const BF16_BITS = new Uint32Array(BF16_VIEW.buffer);

/** bfloat16 bits (the top half of an FP32) to a number. */
export function bf16ToNumber(h: number): number {
  BF16_BITS[0] = h << 16;
  return BF16_VIEW[0];
}

const DECODER = new TextDecoder();

/** A BYTES element as a string (binary protocols hand over raw bytes). */
export function bytesToString(v: string | Uint8Array): string {
  return typeof v === 'string' ? v : DECODER.decode(v);
}
