import { describe, expect, it } from 'vitest';
import { dueCount, scheduledAt, sleepUntilNext } from '../../src/bench/open-loop.js';
import { bestWithinSlo } from '../../src/bench/run.js';
import { parseStatistics, serverBreakdown } from '../../src/bench/server-stats.js';
import { isStable, percentile, summarize, withinPercent, type WindowData } from '../../src/bench/stats.js';
import type { StepResult } from '../../src/bench/types.js';

const win = (latencies: number[], ms = 1000, rows = latencies.length, errors = 0): WindowData => ({
  startMs: 0, endMs: ms, latencies, rows, errors, maxSendLagMs: 0,
});

describe('percentiles', () => {
  it('uses nearest rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 90)).toBe(90);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 99)).toBe(0);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
  });
  it('summarizes windows by pooling latencies and adding durations', () => {
    const s = summarize([win([3, 1, 2], 1000, 6), win([10, 4], 1000, 2, 1)]);
    expect(s.requests).toBe(5);
    expect(s.errors).toBe(1);
    expect(s.requestsPerSec).toBe(2.5);
    expect(s.inferPerSec).toBe(4);
    expect(s.avgMs).toBe(4);
    expect(s.p50Ms).toBe(3);
    expect(s.p99Ms).toBe(10);
    // numeric, not lexicographic, sorting
    expect(summarize([win([100, 9, 20])]).p50Ms).toBe(20);
  });
});

describe('stability rule', () => {
  it('needs 3 windows, each within pct of the mean on throughput and p99', () => {
    const w = (requestsPerSec: number, p99Ms: number) => ({ requestsPerSec, p99Ms });
    expect(isStable([w(100, 5), w(100, 5)], 10)).toBe(false);
    expect(isStable([w(100, 5), w(105, 5.2), w(95, 4.9)], 10)).toBe(true);
    expect(isStable([w(100, 5), w(130, 5), w(100, 5)], 10)).toBe(false); // throughput off
    expect(isStable([w(100, 5), w(100, 9), w(100, 5)], 10)).toBe(false); // p99 off
    expect(isStable([w(10, 50), w(100, 5), w(105, 5.2), w(95, 4.9)], 10)).toBe(true); // only the last 3 count
    expect(withinPercent([0, 0, 0], 10)).toBe(true);
    expect(withinPercent([0, 0, 1], 10)).toBe(false);
  });
});

describe('open-loop schedule', () => {
  it('spaces sends evenly at the rate, whatever the server does', () => {
    expect(scheduledAt(1000, 0, 100)).toBe(1000);
    expect(scheduledAt(1000, 5, 100)).toBe(1050);
    expect(scheduledAt(0, 3, 0.5)).toBe(6000);
  });
  it('counts the requests due by now, so a late timer catches up instead of skipping', () => {
    expect(dueCount(1000, 999, 100)).toBe(0);
    expect(dueCount(1000, 1000, 100)).toBe(1);
    expect(dueCount(1000, 1009.9, 100)).toBe(1);
    expect(dueCount(1000, 1010, 100)).toBe(2);
    expect(dueCount(1000, 2000, 100)).toBe(101); // a 1 s stall: 100 requests become due at once
    expect(sleepUntilNext(1000, 2, 1005, 100)).toBe(15);
    expect(sleepUntilNext(1000, 2, 1030, 100)).toBe(0);
  });
});

describe('server statistics', () => {
  const stats = (n: number, queue: number, infer: number, success: number) => ({
    model_stats: [
      { name: 'm', version: '1', inference_stats: {
        success: { count: n, ns: success }, queue: { count: n, ns: queue },
        compute_input: { count: n, ns: n * 1000 }, compute_infer: { count: n, ns: infer }, compute_output: { count: n, ns: n * 1000 } } },
      // a second version: counts add up; gRPC's uint64 may come as strings
      { name: 'm', version: '2', inference_stats: { success: { count: '0', ns: '0' } } },
    ],
  });
  it('sums versions and yields per-request averages between snapshots', () => {
    const before = parseStatistics(stats(10, 10e6, 20e6, 50e6))!;
    const after = parseStatistics(stats(110, 110e6, 220e6, 450e6))!;
    const b = serverBreakdown(before, after, 10)!;
    expect(b.requests).toBe(100);
    expect(b.queueMs).toBeCloseTo(1);
    expect(b.computeInferMs).toBeCloseTo(2);
    expect(b.computeMs).toBeCloseTo(2.002);
    expect(b.serverOtherMs).toBeCloseTo(4 - 1 - 2.002);
    expect(b.otherMs).toBeCloseTo(10 - 1 - 2.002);
  });
  it('has no breakdown without counted requests or without model_stats', () => {
    const s = parseStatistics(stats(5, 1, 1, 1))!;
    expect(serverBreakdown(s, s, 3)).toBeUndefined();
    expect(parseStatistics({ error: 'x' })).toBeUndefined();
  });
});

describe('latency threshold', () => {
  const step = (level: number, inferPerSec: number, p99Ms: number, errors = 0) =>
    ({ level, inferPerSec, p99Ms, errors, requests: 10 }) as StepResult;
  it('picks the highest throughput whose p99 met the SLO', () => {
    expect(bestWithinSlo([step(1, 100, 2), step(2, 180, 4), step(4, 250, 9)], 5)).toEqual({ level: 2, inferPerSec: 180, p99Ms: 4 });
    expect(bestWithinSlo([step(1, 100, 6)], 5)).toBeUndefined();
    expect(bestWithinSlo([step(1, 100, 2), step(2, 300, 3, 4)], 5)?.level).toBe(1); // errors disqualify
  });
});
