import { ks2samp } from './ks.js';
import { chi2Sf, ndtr } from './special.js';

/**
 * Evidently's drift tests (evidently.legacy.calculations.stattests), each computed the way
 * Evidently computes it on top of scipy and numpy. A sample is a column with NaN and
 * infinities (or missing strings) already dropped: numbers sorted ascending, or strings.
 */

export type ColumnKind = 'numerical' | 'categorical';
export type Sample = Float64Array | readonly string[];
export type StatTestName = 'ks' | 'chisquare' | 'z' | 'wasserstein' | 'jensenshannon' | 'psi';

export interface StatTestInfo {
  /** Evidently's display name. */
  display: string;
  /** The column kinds Evidently registers the test for (an override must respect them). */
  kinds: readonly ColumnKind[];
  defaultThreshold: number;
  /** Whether the score is a p-value (drift when small) or a distance (drift when large). */
  pValue: boolean;
}

export const STAT_TESTS: Record<StatTestName, StatTestInfo> = {
  ks: { display: 'K-S p_value', kinds: ['numerical'], defaultThreshold: 0.05, pValue: true },
  chisquare: { display: 'chi-square p_value', kinds: ['categorical'], defaultThreshold: 0.05, pValue: true },
  z: { display: 'Z-test p_value', kinds: ['categorical'], defaultThreshold: 0.05, pValue: true },
  wasserstein: { display: 'Wasserstein distance (normed)', kinds: ['numerical'], defaultThreshold: 0.1, pValue: false },
  jensenshannon: { display: 'Jensen-Shannon distance', kinds: ['categorical', 'numerical'], defaultThreshold: 0.1, pValue: false },
  psi: { display: 'PSI', kinds: ['categorical', 'numerical'], defaultThreshold: 0.1, pValue: false },
};

export interface TestOutcome {
  /** The test's statistic: D for ks, chi-square for chisquare, z for z, the distance for the rest (null: not computed). */
  statistic: number | null;
  /** p-value for ks / chisquare / z; null for the distances. */
  pValue: number | null;
  driftDetected: boolean;
}

/**
 * Evidently's default test for a column (registry.get_default_stattest): by the reference's
 * row count (<= 1000 or more), the column kind, and the distinct values of both samples.
 */
export function defaultStatTest(kind: ColumnKind, referenceRows: number, uniqueValues: number): StatTestName {
  if (referenceRows <= 1000) {
    if (kind === 'numerical' && uniqueValues > 5) return 'ks';
    return uniqueValues > 2 ? 'chisquare' : 'z';
  }
  if (kind === 'numerical' && uniqueValues > 5) return 'wasserstein';
  return 'jensenshannon';
}

/** Runs one named test; threshold semantics as Evidently's (ks p <= t, chisquare/z p < t, distances >= t). */
export function runStatTest(name: StatTestName, ref: Sample, cur: Sample, kind: ColumnKind, threshold: number): TestOutcome {
  switch (name) {
    case 'ks': {
      const r = ks2samp(asNumbers(ref, name), asNumbers(cur, name));
      return { statistic: r.statistic, pValue: r.pValue, driftDetected: r.pValue <= threshold };
    }
    case 'chisquare': {
      const r = chiSquare(ref, cur);
      return { statistic: r.statistic, pValue: r.pValue, driftDetected: r.pValue < threshold };
    }
    case 'z': {
      const r = zTest(ref, cur);
      return { statistic: r.statistic, pValue: r.pValue, driftDetected: r.pValue < threshold };
    }
    case 'wasserstein': {
      const d = wassersteinNormed(asNumbers(ref, name), asNumbers(cur, name));
      return { statistic: d, pValue: null, driftDetected: d >= threshold };
    }
    case 'jensenshannon': {
      const [p, q] = binnedShares(ref, cur, kind, false);
      const d = jensenShannon(p, q);
      return { statistic: d, pValue: null, driftDetected: d >= threshold };
    }
    case 'psi': {
      const [p, q] = binnedShares(ref, cur, kind, true);
      let v = 0;
      for (let i = 0; i < p.length; i++) v += (p[i] - q[i]) * Math.log(p[i] / q[i]);
      return { statistic: v, pValue: null, driftDetected: v >= threshold };
    }
  }
}

function asNumbers(s: Sample, test: string): Float64Array {
  if (!(s instanceof Float64Array)) throw new Error(`the ${test} test needs numerical values`);
  return s;
}

type Key = number | string;

/** Counts per distinct value (numbers: one pass over the sorted array). */
export function valueCounts(s: Sample): Map<Key, number> {
  const counts = new Map<Key, number>();
  if (s instanceof Float64Array) {
    for (let i = 0; i < s.length; ) {
      let j = i + 1;
      while (j < s.length && s[j] === s[i]) j++;
      counts.set(s[i], j - i);
      i = j;
    }
  } else {
    for (const v of s) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return counts;
}

/** Distinct values of both samples together (Evidently: pd.concat([ref, cur]).nunique()). */
export function uniqueCount(ref: Sample, cur: Sample): number {
  const keys = new Set<Key>(valueCounts(ref).keys());
  for (const k of valueCounts(cur).keys()) keys.add(k);
  return keys.size;
}

function unionKeys(a: Map<Key, number>, b: Map<Key, number>): Key[] {
  const keys = new Set<Key>(a.keys());
  for (const k of b.keys()) keys.add(k);
  return [...keys];
}

/** Pearson's chi-square of the live counts against the reference shares scaled to the live size. */
function chiSquare(ref: Sample, cur: Sample): { statistic: number; pValue: number } {
  const rc = valueCounts(ref);
  const cc = valueCounts(cur);
  const keys = unionKeys(rc, cc);
  const k = cur.length / ref.length;
  let stat = 0;
  for (const key of keys) {
    const exp = (rc.get(key) ?? 0) * k;
    const obs = cc.get(key) ?? 0;
    stat += (obs - exp) ** 2 / exp;
  }
  return { statistic: stat, pValue: chi2Sf(stat, keys.length - 1) };
}

/** Compares strings by code point, as Python's sorted() does. */
function compareKeys(a: Key, b: Key): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a);
  const sb = String(b);
  const ca = [...sa];
  const cb = [...sb];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const d = ca[i].codePointAt(0)! - cb[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return ca.length - cb.length;
}

/** Two-proportion z-test on the share of values other than the smallest key, two-sided. */
function zTest(ref: Sample, cur: Sample): { statistic: number | null; pValue: number } {
  const rc = valueCounts(ref);
  const cc = valueCounts(cur);
  if (rc.size === 1 && cc.size === 1 && [...rc.keys()][0] === [...cc.keys()][0]) return { statistic: null, pValue: 1 };
  const first = unionKeys(rc, cc).sort(compareKeys)[0];
  const n1 = ref.length;
  const n2 = cur.length;
  const p1 = (n1 - (rc.get(first) ?? 0)) / n1;
  const p2 = (n2 - (cc.get(first) ?? 0)) / n2;
  const pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
  const z = (p1 - p2) / Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  // Evidently's 2 * (1 - norm.cdf(|z|)), rounding included.
  return { statistic: z, pValue: 2 * (1 - ndtr(Math.abs(z))) };
}

/** Population standard deviation (numpy's np.std, ddof 0). */
export function populationStd(x: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i];
  const mean = sum / x.length;
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += (x[i] - mean) ** 2;
  return Math.sqrt(ss / x.length);
}

/** First Wasserstein distance between two sorted samples (scipy.stats.wasserstein_distance). */
export function wasserstein(u: Float64Array, v: Float64Array): number {
  let i = 0;
  let j = 0;
  let total = 0;
  let prev = Math.min(u[0], v[0]);
  // Walk the pooled values in order; between consecutive ones the CDFs are constant.
  while (i < u.length || j < v.length) {
    const x = j >= v.length || (i < u.length && u[i] <= v[j]) ? u[i] : v[j];
    total += Math.abs(i / u.length - j / v.length) * (x - prev);
    while (i < u.length && u[i] === x) i++;
    while (j < v.length && v[j] === x) j++;
    prev = x;
  }
  return total;
}

/** Evidently's normed Wasserstein: the distance over the reference's std (at least 0.001). */
function wassersteinNormed(ref: Float64Array, cur: Float64Array): number {
  return wasserstein(ref, cur) / Math.max(populationStd(ref), 0.001);
}

/** Jensen-Shannon distance between two share vectors (scipy.spatial.distance.jensenshannon, natural log). */
export function jensenShannon(p0: Float64Array, q0: Float64Array): number {
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p0.length; i++) {
    sp += p0[i];
    sq += q0[i];
  }
  let left = 0;
  let right = 0;
  for (let i = 0; i < p0.length; i++) {
    const p = p0[i] / sp;
    const q = q0[i] / sq;
    const m = (p + q) / 2;
    left += relEntr(p, m);
    right += relEntr(q, m);
  }
  return Math.sqrt((left + right) / 2);
}

function relEntr(x: number, y: number): number {
  if (Number.isNaN(x) || Number.isNaN(y)) return NaN;
  if (x > 0 && y > 0) return x * Math.log(x / y);
  if (x === 0 && y >= 0) return 0;
  return Infinity;
}

/**
 * Evidently's get_binned_data: for a numerical column with more than 20 distinct reference
 * values, shares per bin of a Sturges histogram over both samples; otherwise shares per
 * distinct value. With fillZeroes (PSI), empty buckets get a small share instead of 0.
 */
export function binnedShares(ref: Sample, cur: Sample, kind: ColumnKind, fillZeroes: boolean): [Float64Array, Float64Array] {
  let p: Float64Array;
  let q: Float64Array;
  if (kind === 'numerical' && ref instanceof Float64Array && cur instanceof Float64Array && valueCounts(ref).size > 20) {
    const edges = sturgesEdges(ref, cur);
    p = histogramShares(ref, edges);
    q = histogramShares(cur, edges);
  } else {
    const rc = valueCounts(ref);
    const cc = valueCounts(cur);
    const keys = unionKeys(rc, cc);
    p = Float64Array.from(keys, (k) => (rc.get(k) ?? 0) / ref.length);
    q = Float64Array.from(keys, (k) => (cc.get(k) ?? 0) / cur.length);
  }
  if (fillZeroes) {
    fillEmpty(p);
    fillEmpty(q);
  }
  return [p, q];
}

function fillEmpty(a: Float64Array): void {
  let smallest = Infinity;
  for (const v of a) if (v !== 0 && v < smallest) smallest = v;
  const fill = smallest <= 0.0001 ? smallest / 10 ** 6 : 0.0001;
  for (let i = 0; i < a.length; i++) if (a[i] === 0) a[i] = fill;
}

/** numpy.histogram_bin_edges(concat(ref, cur), bins='sturges') for sorted samples. */
export function sturgesEdges(ref: Float64Array, cur: Float64Array): Float64Array {
  const lo = Math.min(ref[0], cur[0]);
  const hi = Math.max(ref[ref.length - 1], cur[cur.length - 1]);
  const size = ref.length + cur.length;
  let first = lo;
  let last = hi;
  if (first === last) {
    first -= 0.5;
    last += 0.5;
  }
  const width = (hi - lo) / (Math.log2(size) + 1);
  const bins = width ? Math.ceil((last - first) / width) : 1;
  // np.linspace(first, last, bins + 1): i * step + first, the last edge exactly `last`.
  const step = (last - first) / bins;
  const edges = new Float64Array(bins + 1);
  for (let i = 0; i < bins; i++) edges[i] = i * step + first;
  edges[bins] = last;
  return edges;
}

/** Shares per bin of numpy.histogram(sorted, edges): [e_i, e_i+1), the last bin closed. */
function histogramShares(sorted: Float64Array, edges: Float64Array): Float64Array {
  const bins = edges.length - 1;
  const cum = new Float64Array(edges.length);
  for (let i = 0; i < bins; i++) cum[i] = lowerBound(sorted, edges[i]);
  cum[bins] = upperBound(sorted, edges[bins]);
  const shares = new Float64Array(bins);
  for (let i = 0; i < bins; i++) shares[i] = (cum[i + 1] - cum[i]) / sorted.length;
  return shares;
}

/** First index whose value is >= x. */
export function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is > x. */
export function upperBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
