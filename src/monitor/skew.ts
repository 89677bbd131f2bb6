import type { Tensor } from '../protocol/types.js';
import type { Feature, ReferenceProfile } from './profile.js';
import { MISSING_CELLS, bf16ToNumber, bytesToString, halfToNumber } from './values.js';

/**
 * Request-time skew checks against the reference profile: a numerical value outside the
 * reference's [min, max] widened by a margin, a category the reference never had, or a
 * missing value (NaN, or an empty / NA string).
 */

export type SkewKind = 'out_of_range' | 'unseen_category' | 'missing';
export const SKEW_KINDS: readonly SkewKind[] = ['out_of_range', 'unseen_category', 'missing'];

export interface SkewViolation {
  feature: Feature;
  kind: SkewKind;
  /** Row within the request. */
  row: number;
  value: number | string;
}

/** A live string value is missing when pandas would read it as missing. */
export const isMissingString = (s: string): boolean => MISSING_CELLS.has(s);

export class SkewChecker {
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  /** Per monitored input: its first feature's index, and whether all its features are plain numerical numbers. */
  private readonly inputs: { first: number; fast: boolean }[];
  /** Violations per feature and kind (feature * 3 + kind index), read by the metrics. */
  readonly counts: Float64Array;

  constructor(
    readonly profile: ReferenceProfile,
    readonly margin: number,
  ) {
    const n = profile.features.length;
    this.lo = new Float64Array(n);
    this.hi = new Float64Array(n);
    this.counts = new Float64Array(n * SKEW_KINDS.length);
    profile.features.forEach((f, i) => {
      const widen = (f.max - f.min) * margin;
      this.lo[i] = f.min - widen;
      this.hi[i] = f.max + widen;
    });
    this.inputs = profile.inputs.map((m) => {
      const first = profile.features.findIndex((f) => f.input === m);
      const own = profile.features.filter((f) => f.input === m);
      return { first, fast: m.readAs === 'number' && own.every((f) => f.kind === 'numerical') };
    });
  }

  /** The allowed range of a numerical feature. */
  range(i: number): [number, number] {
    return [this.lo[i], this.hi[i]];
  }

  /**
   * Checks every row of a request's inputs (model order), counts what it finds, and pushes
   * the violations into `found` when given (warn / reject need them; counting alone does not).
   * Returns the number of violations.
   */
  check(inputs: readonly Tensor[], rows: number, found?: SkewViolation[]): number {
    // The common case, a float input whose every value is in range, costs two comparisons a value.
    const ins = this.profile.inputs;
    let clean = true;
    for (let k = 0; k < ins.length && clean; k++) {
      const m = ins[k];
      const { first, fast } = this.inputs[k];
      const data = inputs[m.index]?.data as ArrayLike<number> | undefined;
      if (!fast || !data) {
        clean = false;
        break;
      }
      const { lo, hi } = this;
      const w = m.width;
      const n = Math.min(rows * w, data.length);
      for (let i = 0, p = 0; i < n; i++) {
        const v = data[i];
        // NaN fails both comparisons too.
        if (!(v >= lo[first + p] && v <= hi[first + p])) {
          clean = false;
          break;
        }
        if (++p === w) p = 0;
      }
    }
    return clean ? 0 : this.classify(inputs, rows, found);
  }

  /** The slow path: every value of every feature looked at and classified. */
  private classify(inputs: readonly Tensor[], rows: number, found?: SkewViolation[]): number {
    let total = 0;
    const features = this.profile.features;
    for (let fi = 0; fi < features.length; fi++) {
      const f = features[fi];
      const m = f.input;
      const data = inputs[m.index]?.data;
      if (!data) continue;
      for (let r = 0; r < rows; r++) {
        const at = r * m.width + f.position;
        if (at >= data.length) break;
        let kind: SkewKind | undefined;
        let value: number | string;
        if (m.readAs === 'bytes') {
          value = bytesToString((data as (string | Uint8Array)[])[at]);
          if (isMissingString(value)) kind = 'missing';
          else if (!f.seen.has(value)) kind = 'unseen_category';
        } else {
          value = readNumber(data, m.readAs, at);
          if (Number.isNaN(value)) kind = 'missing';
          else if (f.kind === 'categorical') {
            if (!f.seen.has(value)) kind = 'unseen_category';
          } else if (value < this.lo[fi] || value > this.hi[fi]) kind = 'out_of_range';
        }
        if (kind === undefined) continue;
        this.counts[fi * 3 + SKEW_KINDS.indexOf(kind)]++;
        total++;
        found?.push({ feature: f, kind, row: r, value });
      }
    }
    return total;
  }

  /** Describes a violation for a response warning or an error message. */
  describe(v: SkewViolation): string {
    const i = this.profile.features.indexOf(v.feature);
    const where = `input '${v.feature.input.name}' row ${v.row} feature '${v.feature.name}'`;
    if (v.kind === 'missing') return `${where}: value is missing (${typeof v.value === 'string' ? JSON.stringify(v.value) : 'NaN'})`;
    if (v.kind === 'unseen_category') return `${where}: value ${JSON.stringify(v.value)} never occurs in the reference`;
    const [lo, hi] = this.range(i);
    return `${where}: value ${v.value} is out of range [${lo}, ${hi}] (the reference's [${v.feature.min}, ${v.feature.max}] widened by ${this.margin * 100}%)`;
  }
}

function readNumber(data: Tensor['data'], readAs: string, at: number): number {
  const v = (data as ArrayLike<number | bigint>)[at];
  if (readAs === 'bigint') return Number(v);
  if (readAs === 'fp16') return halfToNumber(v as number);
  if (readAs === 'bf16') return bf16ToNumber(v as number);
  return v as number;
}
