import { LATENCY_BUCKETS } from '../telemetry/metrics.js';
import type { ArmFigures } from './types.js';

/** One arm's figures as stored and summed across gateways: counts and latency bucket counts (LATENCY_BUCKETS, then +Inf). */
export interface ArmCounts {
  requests: number;
  errors: number;
  buckets: number[];
}

/** A rollout's figures for one interval as stored per gateway. */
export interface WindowCounts {
  baseline: ArmCounts;
  candidate: ArmCounts;
  mirroredRows: number;
  disagreeingRows: number;
}

/**
 * One arm's requests, errors and latency over an interval, in the buckets of
 * `infergate_request_duration_seconds` (non-cumulative counts, the last one +Inf).
 */
export class ArmWindow {
  requests = 0;
  errors = 0;
  readonly buckets = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);

  record(seconds: number, failed: boolean): void {
    this.requests++;
    if (failed) this.errors++;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    this.buckets[i]++;
  }

  add(c: ArmCounts): void {
    this.requests += c.requests;
    this.errors += c.errors;
    for (let i = 0; i < this.buckets.length; i++) this.buckets[i] += c.buckets[i] ?? 0;
  }

  counts(): ArmCounts {
    return { requests: this.requests, errors: this.errors, buckets: [...this.buckets] };
  }

  figures(): ArmFigures {
    return {
      requests: this.requests,
      errors: this.errors,
      errorRate: this.requests ? (100 * this.errors) / this.requests : 0,
      p50Ms: msOrNull(histogramQuantile(0.5, this.buckets)),
      p99Ms: msOrNull(histogramQuantile(0.99, this.buckets)),
    };
  }
}

const msOrNull = (s: number | null) => (s === null ? null : s * 1000);

/**
 * The q-quantile of a histogram as Prometheus's histogram_quantile computes it: the bucket
 * the rank falls in, then linear interpolation inside it (the first bucket starts at 0); a
 * rank in the +Inf bucket gives the highest finite bound. Null for an empty histogram.
 */
export function histogramQuantile(q: number, counts: readonly number[]): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const upTo = below + counts[i];
    if (upTo >= rank && counts[i] > 0) {
      if (i === LATENCY_BUCKETS.length) return LATENCY_BUCKETS[i - 1];
      const lo = i === 0 ? 0 : LATENCY_BUCKETS[i - 1];
      return lo + (LATENCY_BUCKETS[i] - lo) * ((rank - below) / counts[i]);
    }
    below = upTo;
  }
  return LATENCY_BUCKETS[LATENCY_BUCKETS.length - 1];
}

/** A rollout's figures for one interval: both arms and the mirrored comparison. */
export class RolloutWindow {
  readonly baseline = new ArmWindow();
  readonly candidate = new ArmWindow();
  mirroredRows = 0;
  disagreeingRows = 0;

  get empty(): boolean {
    return this.baseline.requests === 0 && this.candidate.requests === 0 && this.mirroredRows === 0;
  }

  add(c: WindowCounts): this {
    this.baseline.add(c.baseline);
    this.candidate.add(c.candidate);
    this.mirroredRows += c.mirroredRows;
    this.disagreeingRows += c.disagreeingRows;
    return this;
  }

  counts(): WindowCounts {
    return { baseline: this.baseline.counts(), candidate: this.candidate.counts(), mirroredRows: this.mirroredRows, disagreeingRows: this.disagreeingRows };
  }
}
