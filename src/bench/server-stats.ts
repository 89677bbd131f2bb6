import type { ServerBreakdown } from './types.js';

/**
 * The server's statistics extension (Triton's format, also infergate's): per model version
 * cumulative {count, ns} durations. A step's breakdown is the difference of two snapshots.
 */

export interface DurationTotal {
  count: number;
  ns: number;
}

/** Cumulative counters summed over the model's versions at one instant. */
export interface StatsSnapshot {
  success: DurationTotal;
  queue: DurationTotal;
  computeInput: DurationTotal;
  computeInfer: DurationTotal;
  computeOutput: DurationTotal;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** {count, ns} from JSON or gRPC (uint64 may arrive as string or number). */
function duration(v: unknown): DurationTotal {
  if (!isObject(v)) return { count: 0, ns: 0 };
  return { count: Number(v.count ?? 0) || 0, ns: Number(v.ns ?? 0) || 0 };
}

/** Sums {model_stats:[{inference_stats:{...}}]}; undefined when the body has no model_stats. */
export function parseStatistics(body: unknown): StatsSnapshot | undefined {
  if (!isObject(body) || !Array.isArray(body.model_stats)) return undefined;
  const total: StatsSnapshot = {
    success: { count: 0, ns: 0 }, queue: { count: 0, ns: 0 },
    computeInput: { count: 0, ns: 0 }, computeInfer: { count: 0, ns: 0 }, computeOutput: { count: 0, ns: 0 },
  };
  const add = (t: DurationTotal, v: unknown) => {
    const d = duration(v);
    t.count += d.count;
    t.ns += d.ns;
  };
  for (const m of body.model_stats) {
    const s = isObject(m) ? m.inference_stats : undefined;
    if (!isObject(s)) continue;
    add(total.success, s.success);
    add(total.queue, s.queue);
    add(total.computeInput, s.compute_input);
    add(total.computeInfer, s.compute_infer);
    add(total.computeOutput, s.compute_output);
  }
  return total;
}

/** Average ms per counted event of after - before; 0 when nothing was counted. */
function avgMs(before: DurationTotal, after: DurationTotal): number {
  const count = after.count - before.count;
  return count > 0 ? (after.ns - before.ns) / count / 1e6 : 0;
}

/**
 * Per-request averages between two snapshots, as perf_analyzer shows them: queue, compute
 * (input + infer + output), and what is left of the client's mean latency (network, codecs).
 * Undefined when the server counted no successful request in between.
 */
export function serverBreakdown(before: StatsSnapshot, after: StatsSnapshot, clientAvgMs: number): ServerBreakdown | undefined {
  const requests = after.success.count - before.success.count;
  if (requests <= 0) return undefined;
  const queueMs = avgMs(before.queue, after.queue);
  const computeInputMs = avgMs(before.computeInput, after.computeInput);
  const computeInferMs = avgMs(before.computeInfer, after.computeInfer);
  const computeOutputMs = avgMs(before.computeOutput, after.computeOutput);
  const computeMs = computeInputMs + computeInferMs + computeOutputMs;
  const serverMs = avgMs(before.success, after.success);
  return {
    requests,
    queueMs,
    computeInputMs,
    computeInferMs,
    computeOutputMs,
    computeMs,
    serverOtherMs: Math.max(0, serverMs - queueMs - computeMs),
    otherMs: Math.max(0, clientAvgMs - queueMs - computeMs),
  };
}
