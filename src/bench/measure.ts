import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadGenerator } from './recorder.js';
import { type StatsSnapshot, serverBreakdown } from './server-stats.js';
import { type WindowData, type WindowSummary, isStable, summarize } from './stats.js';
import type { Transport } from './transport.js';
import type { LoadMode, StepResult } from './types.js';

/** Called after each measurement window, for the progress line. */
export type WindowListener = (w: { level: number; trial: number; maxTrials: number; summary: WindowSummary; stable: boolean }) => void;

export interface StepSettings {
  mode: LoadMode;
  level: number;
  intervalMs: number;
  stabilityPercentage: number;
  maxTrials: number;
  /** Whether to snapshot server statistics at window boundaries. */
  serverStats: boolean;
}

/**
 * Measures one load level as perf_analyzer does: the load runs continuously while windows
 * of intervalMs are cut from it, until the last 3 are stable or maxTrials windows have run.
 * The result merges the last 3 windows; the server breakdown covers the same span.
 */
export async function measureStep(gen: LoadGenerator, transport: Transport, s: StepSettings, onWindow?: WindowListener): Promise<StepResult> {
  const snapshots: (StatsSnapshot | undefined)[] = [];
  const snap = async () => {
    if (!s.serverStats) return undefined;
    const r = await transport.statistics();
    return typeof r === 'string' ? undefined : r;
  };
  const windows: WindowData[] = [];
  const summaries: WindowSummary[] = [];
  gen.start();
  gen.recorder.swap(); // the window starts now, not when the generator was built
  snapshots.push(await snap());
  let stable = false;
  for (let trial = 1; trial <= s.maxTrials && !stable; trial++) {
    await sleep(s.intervalMs);
    windows.push(gen.recorder.swap());
    snapshots.push(await snap());
    summaries.push(summarize(windows.slice(-1)));
    stable = isStable(summaries, s.stabilityPercentage);
    onWindow?.({ level: s.level, trial, maxTrials: s.maxTrials, summary: summaries[summaries.length - 1], stable });
  }
  await gen.stop();

  const used = windows.slice(-3);
  const m = summarize(used);
  const firstError = used.find((w) => w.firstError)?.firstError ?? windows.find((w) => w.firstError)?.firstError;
  const before = snapshots[snapshots.length - 1 - used.length];
  const after = snapshots[snapshots.length - 1];
  const result: StepResult = {
    mode: s.mode,
    level: s.level,
    requests: m.requests,
    errors: m.errors,
    inferPerSec: m.inferPerSec,
    requestsPerSec: m.requestsPerSec,
    avgMs: m.avgMs,
    p50Ms: m.p50Ms,
    p90Ms: m.p90Ms,
    p95Ms: m.p95Ms,
    p99Ms: m.p99Ms,
    stable,
    windows: windows.length,
  };
  if (firstError !== undefined) result.firstError = firstError;
  if (s.mode === 'request-rate') result.maxSendLagMs = Math.max(...used.map((w) => w.maxSendLagMs));
  if (before && after) {
    const b = serverBreakdown(before, after, m.avgMs);
    if (b) result.server = b;
  }
  return result;
}
