/** Client-side statistics: latency percentiles, window summaries, perf_analyzer's stability rule. */

/** What one measurement window recorded; latencies in ms, in completion order. */
export interface WindowData {
  startMs: number;
  endMs: number;
  latencies: number[];
  rows: number;
  errors: number;
  firstError?: string;
  /** Open loop: worst delay of an actual send behind its schedule. */
  maxSendLagMs: number;
}

export interface WindowSummary {
  requests: number;
  errors: number;
  requestsPerSec: number;
  inferPerSec: number;
  avgMs: number;
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
}

/** Nearest-rank percentile of ascending-sorted values (the rank perf_analyzer and HdrHistogram use); 0 when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Summarizes windows taken together (their latencies pooled, their durations added). */
export function summarize(windows: WindowData[]): WindowSummary {
  let n = 0;
  for (const w of windows) n += w.latencies.length;
  // A Float64Array sorts numerically without a comparator callback: much faster for 100k+ samples.
  const all = new Float64Array(n);
  let off = 0;
  let sum = 0;
  let rows = 0;
  let errors = 0;
  let seconds = 0;
  for (const w of windows) {
    all.set(w.latencies, off);
    off += w.latencies.length;
    for (const l of w.latencies) sum += l;
    rows += w.rows;
    errors += w.errors;
    seconds += (w.endMs - w.startMs) / 1000;
  }
  all.sort();
  const rate = (x: number) => (seconds > 0 ? x / seconds : 0);
  return {
    requests: n,
    errors,
    requestsPerSec: rate(n),
    inferPerSec: rate(rows),
    avgMs: n ? sum / n : 0,
    p50Ms: percentile(all, 50),
    p90Ms: percentile(all, 90),
    p95Ms: percentile(all, 95),
    p99Ms: percentile(all, 99),
  };
}

/** True when every value is within pct% of the values' mean (all zero counts as stable). */
export function withinPercent(values: number[], pct: number): boolean {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (mean === 0) return values.every((v) => v === 0);
  return values.every((v) => Math.abs(v - mean) <= (pct / 100) * Math.abs(mean));
}

/**
 * perf_analyzer's rule: the last 3 windows are stable when each one's throughput and each
 * one's p99 lie within pct% of the three's average. Fewer than 3 windows are never stable.
 */
export function isStable(windows: Pick<WindowSummary, 'requestsPerSec' | 'p99Ms'>[], pct: number): boolean {
  if (windows.length < 3) return false;
  const last = windows.slice(-3);
  return withinPercent(last.map((w) => w.requestsPerSec), pct) && withinPercent(last.map((w) => w.p99Ms), pct);
}
