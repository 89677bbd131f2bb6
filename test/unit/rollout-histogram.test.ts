import { describe, expect, it } from 'vitest';
import { ArmWindow, RolloutWindow, histogramQuantile } from '../../src/rollout/arm-stats.js';
import { LATENCY_BUCKETS } from '../../src/telemetry/metrics.js';

const at = (bound: number) => LATENCY_BUCKETS.indexOf(bound);

describe("rollout latency percentiles (Prometheus's histogram_quantile over the metrics' buckets)", () => {
  it('interpolates linearly inside the bucket the rank falls in; the first bucket starts at 0', () => {
    const counts = new Array(LATENCY_BUCKETS.length + 1).fill(0);
    counts[at(0.005)] = 100; // (0.0025, 0.005]
    expect(histogramQuantile(0.5, counts)).toBeCloseTo(0.0025 + 0.0025 * 0.5, 12);
    expect(histogramQuantile(0.99, counts)).toBeCloseTo(0.0025 + 0.0025 * 0.99, 12);
    const first = new Array(LATENCY_BUCKETS.length + 1).fill(0);
    first[0] = 4;
    expect(histogramQuantile(0.5, first)).toBeCloseTo(0.0001 * 0.5, 12);
  });

  it('gives the highest finite bound for a rank in +Inf, and null when empty', () => {
    const counts = new Array(LATENCY_BUCKETS.length + 1).fill(0);
    counts[LATENCY_BUCKETS.length] = 3;
    expect(histogramQuantile(0.99, counts)).toBe(10);
    expect(histogramQuantile(0.5, new Array(LATENCY_BUCKETS.length + 1).fill(0))).toBeNull();
  });

  it('an arm counts a value on a bucket bound into that bucket (le is inclusive), and windows add up', () => {
    const a = new ArmWindow();
    for (let i = 0; i < 90; i++) a.record(0.001, false);
    for (let i = 0; i < 10; i++) a.record(0.02, true);
    expect(a.buckets[at(0.001)]).toBe(90);
    expect(a.buckets[at(0.025)]).toBe(10);
    const f = a.figures();
    expect(f).toMatchObject({ requests: 100, errors: 10, errorRate: 10 });
    // rank 99 of 100: 9th of the 10 in (0.01, 0.025].
    expect(f.p99Ms).toBeCloseTo((0.01 + 0.015 * 0.9) * 1000, 9);
    const w = new RolloutWindow();
    w.baseline.record(0.001, false);
    const sum = new RolloutWindow().add(w.counts()).add(w.counts());
    expect(sum.baseline.requests).toBe(2);
    expect(sum.baseline.buckets[at(0.001)]).toBe(2);
    expect(new RolloutWindow().empty).toBe(true);
  });
});
