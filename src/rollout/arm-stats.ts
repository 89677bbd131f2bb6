import type { ArmFigures } from './types.js';

const MAX_SAMPLES = 20_000;

/** One arm's requests, errors and latencies over the current interval. */
export class ArmWindow {
  requests = 0;
  errors = 0;
  private latencies: number[] = [];

  record(seconds: number, failed: boolean): void {
    this.requests++;
    if (failed) this.errors++;
    // Past the cap, keep a uniform sample (reservoir) so percentiles stay fair.
    if (this.latencies.length < MAX_SAMPLES) this.latencies.push(seconds * 1000);
    else {
      const j = Math.floor(Math.random() * this.requests);
      if (j < MAX_SAMPLES) this.latencies[j] = seconds * 1000;
    }
  }

  figures(): ArmFigures {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const q = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] : null);
    return {
      requests: this.requests,
      errors: this.errors,
      errorRate: this.requests ? (100 * this.errors) / this.requests : 0,
      p50Ms: q(0.5),
      p99Ms: q(0.99),
    };
  }
}

/** A rollout's figures for one interval: both arms and the mirrored comparison. */
export class RolloutWindow {
  readonly baseline = new ArmWindow();
  readonly candidate = new ArmWindow();
  mirroredRows = 0;
  disagreeingRows = 0;
}
