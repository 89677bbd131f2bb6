import type { RolloutWindow } from './arm-stats.js';
import type { AnalysisRun, MonitorFigures, Rollout } from './types.js';

/**
 * Judges one interval: inconclusive when an arm has fewer than min_requests (the candidate's
 * count includes mirrored copies) or a disagreement check has no mirrored rows; else failed
 * when any check fails, each failure naming its metric and figures; else passed.
 */
export function analyse(r: Rollout, w: RolloutWindow, now: number, monitor?: MonitorFigures): AnalysisRun {
  const baseline = w.baseline.figures();
  const candidate = w.candidate.figures();
  const disagreement = w.mirroredRows ? (100 * w.disagreeingRows) / w.mirroredRows : null;
  const run: AnalysisRun = {
    at: now, step: r.stepIndex, weight: r.weight, outcome: 'passed', baseline, candidate,
    mirroredRows: w.mirroredRows, disagreement, failedChecks: [], ...(monitor ? { monitor } : {}),
  };
  const skipped: string[] = [];
  const min = r.spec.minRequests;
  const shadow = r.spec.strategy === 'shadow';
  if (candidate.requests < min || (!shadow && baseline.requests < min)) {
    return { ...run, outcome: 'inconclusive', note: `too few requests (baseline ${baseline.requests}, candidate ${candidate.requests}; min_requests ${min})` };
  }
  for (const c of r.spec.analysis) {
    if (c.metric === 'error_rate' && candidate.errorRate > c.max) {
      run.failedChecks.push(`error_rate ${candidate.errorRate.toFixed(2)}% > max ${c.max}%`);
    } else if (c.metric === 'latency_p99' && candidate.p99Ms !== null && baseline.p99Ms !== null && baseline.p99Ms > 0) {
      const ratio = candidate.p99Ms / baseline.p99Ms;
      if (ratio > c.maxRatio) run.failedChecks.push(`latency_p99 ratio ${ratio.toFixed(2)} (candidate ${candidate.p99Ms.toFixed(2)} ms / baseline ${baseline.p99Ms.toFixed(2)} ms) > max_ratio ${c.maxRatio}`);
    } else if (c.metric === 'disagreement') {
      if (disagreement === null) return { ...run, outcome: 'inconclusive', note: 'disagreement: no mirrored rows compared this interval' };
      if (disagreement > c.max) run.failedChecks.push(`disagreement ${disagreement.toFixed(1)}% of ${w.mirroredRows} mirrored rows > max ${c.max}%`);
    } else if (c.metric === 'accuracy') {
      // Labels arrive late or never: without them on both versions the check waits, it does not block.
      const b = monitor?.baselineAccuracy ?? null;
      const k = monitor?.candidateAccuracy ?? null;
      if (b === null || k === null || b === 0) skipped.push('accuracy: no labelled predictions on both versions yet');
      else if (k / b < c.minRatio) run.failedChecks.push(`accuracy ratio ${(k / b).toFixed(3)} (candidate ${k.toFixed(3)} / baseline ${b.toFixed(3)}) < min_ratio ${c.minRatio}`);
    } else if (c.metric === 'dataset_drift') {
      const d = monitor?.candidateDrift ?? null;
      if (d === null) skipped.push('dataset_drift: the candidate is not monitored');
      else if (d !== c.equals) run.failedChecks.push(`dataset_drift is ${d}, expected ${c.equals}`);
    }
  }
  if (skipped.length) run.note = `not evaluated: ${skipped.join('; ')}`;
  return run.failedChecks.length ? { ...run, outcome: 'failed' } : run;
}
