import type { Tensor } from '../protocol/types.js';
import type { MonitoredInput, ReadAs, ReferenceProfile } from './profile.js';
import { bf16ToNumber, bytesToString, halfToNumber } from './values.js';

/**
 * The most recent live rows of one model version, in buffers allocated once: a ring of rows
 * (numbers, strings, prediction). Writing a row copies its values and allocates nothing.
 */
export class LiveWindow {
  readonly capacity: number;
  readonly numbers: Float64Array;
  /** BYTES values as they arrived (strings, or raw bytes from binary protocols): references only. */
  readonly strings: (string | Uint8Array)[];
  readonly predictions: Float64Array;
  private readonly nw: number;
  private readonly sw: number;
  private readonly pw: number;
  /** Rows ever written since the last reset; also tells a cached report it is stale. */
  written = 0;
  /** Bumped by every write and reset, so a cached computation knows it is stale. */
  changes = 0;

  constructor(capacity: number, private readonly profile: ReferenceProfile) {
    this.capacity = capacity;
    this.nw = profile.numericWidth;
    this.sw = profile.stringWidth;
    this.pw = profile.prediction?.width ?? 0;
    this.numbers = new Float64Array(capacity * this.nw);
    this.strings = new Array<string | Uint8Array>(capacity * this.sw).fill('');
    this.predictions = new Float64Array(capacity * this.pw).fill(NaN);
  }

  /** Rows held now (at most the capacity). */
  get size(): number {
    return Math.min(this.written, this.capacity);
  }

  /**
   * Copies rows [first, first+count) of a request into the ring: the monitored inputs
   * (model order) and the prediction output, when the request carries it.
   */
  write(inputs: readonly Tensor[], prediction: Tensor | undefined, first: number, count: number): void {
    const { nw, sw, pw } = this;
    for (let r = first; r < first + count; r++) {
      const slot = this.written % this.capacity;
      this.written++;
      for (const m of this.profile.inputs) {
        const data = inputs[m.index].data;
        const src = r * m.width;
        if (m.readAs === 'bytes') copyStrings(data as (string | Uint8Array)[], src, this.strings, slot * sw + m.offset, m.width);
        else copyNumbers(data, m.readAs, src, this.numbers, slot * nw + m.offset, m.width);
      }
      if (pw > 0) {
        if (prediction) copyNumbers(prediction.data, this.profile.prediction!.readAs, r * pw, this.predictions, slot * pw, pw);
        else this.predictions.fill(NaN, slot * pw, slot * pw + pw);
      }
    }
    this.changes++;
  }

  reset(): void {
    this.written = 0;
    this.changes++;
  }

  /** One numeric column of the rows held, finite values only, sorted (for the statistics). */
  numericColumn(col: number): Float64Array {
    const n = this.size;
    const out = new Float64Array(n);
    let k = 0;
    for (let s = 0; s < n; s++) {
      const v = this.numbers[s * this.nw + col];
      if (Number.isFinite(v)) out[k++] = v;
    }
    return out.subarray(0, k).sort();
  }

  /** One string column of the rows held, missing ones dropped. */
  stringColumn(col: number, isMissing: (s: string) => boolean): string[] {
    const n = this.size;
    const out: string[] = [];
    for (let s = 0; s < n; s++) {
      const v = bytesToString(this.strings[s * this.sw + col]);
      if (!isMissing(v)) out.push(v);
    }
    return out;
  }

  /** The prediction row held in slot s (a view, no copy). */
  predictionAt(s: number): Float64Array {
    return this.predictions.subarray(s * this.pw, s * this.pw + this.pw);
  }
}

/** Copies `count` values of a typed array into a Float64Array, converting FP16/BF16/64-bit integers. */
export function copyNumbers(data: Tensor['data'], readAs: ReadAs, src: number, dst: Float64Array, at: number, count: number): void {
  switch (readAs) {
    case 'number': {
      const d = data as ArrayLike<number>;
      for (let k = 0; k < count; k++) dst[at + k] = d[src + k];
      return;
    }
    case 'bigint': {
      const d = data as ArrayLike<bigint>;
      for (let k = 0; k < count; k++) dst[at + k] = Number(d[src + k]);
      return;
    }
    case 'fp16': {
      const d = data as ArrayLike<number>;
      for (let k = 0; k < count; k++) dst[at + k] = halfToNumber(d[src + k]);
      return;
    }
    case 'bf16': {
      const d = data as ArrayLike<number>;
      for (let k = 0; k < count; k++) dst[at + k] = bf16ToNumber(d[src + k]);
      return;
    }
    case 'bytes':
      throw new Error('BYTES values are not numbers');
  }
}

function copyStrings(data: (string | Uint8Array)[], src: number, dst: (string | Uint8Array)[], at: number, count: number): void {
  for (let k = 0; k < count; k++) dst[at + k] = data[src + k];
}

/** Picks a `rate` share of requests, evenly and deterministically (no random draws on the hot path). */
export class Sampler {
  private credit = 0;
  constructor(private readonly rate: number) {}

  take(): boolean {
    if (this.rate >= 1) return true;
    this.credit += this.rate;
    if (this.credit >= 1) {
      this.credit -= 1;
      return true;
    }
    return false;
  }
}

/** The rows one request contributes: its element count over the input's row width. */
export function rowsOf(input: MonitoredInput, t: Tensor): number {
  return Math.floor(t.data.length / input.width);
}
