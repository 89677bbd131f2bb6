import { describe, expect, it } from 'vitest';
import { kstwoSf } from '../../src/monitor/stats/kolmogorov.js';
import { ks2samp } from '../../src/monitor/stats/ks.js';
import { chi2Sf, ndtr } from '../../src/monitor/stats/special.js';
import { type Sample, type StatTestName, defaultStatTest, runStatTest, uniqueCount } from '../../src/monitor/stats/tests.js';
import { driftFixture, expectClose } from '../helpers/drift-fixture.js';

// Every expected figure comes from test/fixtures/drift/make_reference.py (Debian's scipy 1.10.1).
const F = driftFixture.functions;

const sorted = (xs: number[]): Float64Array => Float64Array.from(xs).sort();
/** The fixture's deterministic big samples: ((i*mul) % mod) / mod * scale + offset. */
const gen = ([n, mul, mod, scale, offset]: number[]): Float64Array =>
  Float64Array.from({ length: n }, (_, i) => ((i * mul) % mod) / mod * scale + offset).sort();
const sample = (xs: (number | string)[]): Sample => (typeof xs[0] === 'string' ? (xs as string[]) : sorted(xs as number[]));

describe('special functions against scipy', () => {
  it('ndtr (norm.cdf) at every point', () => {
    for (const c of F.ndtr) expectClose(ndtr(c.x), c.cdf, `ndtr(${c.x})`);
  });
  it('chi2.sf over degrees of freedom and tails down to 1e-300', () => {
    for (const c of F.chi2_sf) expectClose(chi2Sf(c.x, c.df), c.sf, `chi2.sf(${c.x}, ${c.df})`);
  });
  it('kstwo.sf in every branch (Durbin, Pomeranz, Pelz-Good, Smirnov, Ruben-Gambino)', () => {
    expect(F.kstwo_sf.length).toBeGreaterThan(150);
    for (const c of F.kstwo_sf) expectClose(kstwoSf(c.x, c.n), c.sf, `kstwo.sf(${c.x}, ${c.n})`);
  });
});

describe('ks_2samp against scipy', () => {
  it('exact and asymptotic p-values, ties, equal and unequal sizes', () => {
    const methods = new Set<string>();
    for (const c of F.ks_2samp) {
      const a = c.a ? sorted(c.a) : gen(c.gen_a);
      const b = c.b ? sorted(c.b) : gen(c.gen_b);
      const r = ks2samp(a, b);
      methods.add(r.method);
      const what = `ks_2samp n=${a.length},${b.length}`;
      expectClose(r.statistic, c.statistic, `${what} statistic`);
      expectClose(r.pValue, c.pvalue, `${what} p-value`);
    }
    expect([...methods].sort()).toEqual(['asymp', 'exact']);
  });
});

describe("Evidently's tests against the fixture", () => {
  it('each test: statistic, p-value and verdict', () => {
    for (const c of F.evidently) {
      const r = runStatTest(c.stattest as StatTestName, sample(c.ref), sample(c.cur), c.kind, c.threshold);
      const what = `${c.stattest} (${c.kind}, ${c.ref.length} vs ${c.cur.length})`;
      expectClose(r.statistic, c.statistic, `${what} statistic`);
      expectClose(r.pValue, c.p_value, `${what} p-value`);
      expect(r.driftDetected, what).toBe(c.drift_detected);
    }
  });
  it('the default test by reference size, kind and distinct values', () => {
    for (const c of F.selection) {
      expect(defaultStatTest(c.kind, c.reference_rows, c.n_unique), JSON.stringify(c)).toBe(c.stattest);
    }
    expect(uniqueCount(sorted([1, 2, 2, 3]), sorted([3, 4]))).toBe(4);
    expect(uniqueCount(['a', 'b'], ['b', 'c', 'c'])).toBe(3);
  });
});
