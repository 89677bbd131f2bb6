import type { BenchReport, StepResult } from './types.js';

/** "Concurrency" or "Rate (req/s)": the load column's title for a report's mode. */
export function levelTitle(mode: BenchReport['mode']): string {
  return mode === 'concurrency' ? 'Concurrency' : 'Rate (req/s)';
}

const ms = (v: number) => v.toFixed(2);
const rate = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

/** The one-line verdict for --latency-threshold, as perf_analyzer words its search result. */
export function sloLine(r: BenchReport): string | undefined {
  if (r.latencyThresholdMs === undefined) return undefined;
  const what = r.mode === 'concurrency' ? 'concurrency' : 'request rate';
  if (!r.bestWithinSlo) return `no load level met the p99 threshold of ${r.latencyThresholdMs} ms`;
  const b = r.bestWithinSlo;
  return `max throughput within SLO (p99 <= ${r.latencyThresholdMs} ms): ${rate(b.inferPerSec)} infer/s at ${what} ${b.level}, p99 ${ms(b.p99Ms)} ms`;
}

function row(s: StepResult): string[] {
  const b = s.server;
  return [
    String(s.level), rate(s.inferPerSec), rate(s.requestsPerSec),
    ms(s.avgMs), ms(s.p50Ms), ms(s.p90Ms), ms(s.p95Ms), ms(s.p99Ms),
    b ? ms(b.queueMs) : '-', b ? ms(b.computeMs) : '-', b ? ms(b.otherMs) : '-',
    String(s.errors), s.stable ? 'yes' : 'no',
  ];
}

/** The results as an aligned text table (latencies in ms), with notes under it. */
export function formatTable(r: BenchReport): string {
  const head = [levelTitle(r.mode), 'Infer/s', 'Req/s', 'Avg', 'p50', 'p90', 'p95', 'p99', 'Queue', 'Compute', 'Other', 'Errors', 'Stable'];
  const rows = r.steps.map(row);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((x) => x[c].length)));
  const line = (cells: string[]) => cells.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ');
  const out = [
    `${r.model}${r.version ? `/${r.version}` : ''} at ${r.url} (${r.protocol}${r.httpFormat ? `, ${r.httpFormat}` : ''}), batch size ${r.batchSize}; latencies in ms; Queue/Compute/Other are server-side averages per request`,
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ];
  if (r.serverStatsNote) out.push(`note: ${r.serverStatsNote}`);
  for (const s of r.steps) {
    if (s.errors > 0) out.push(`note: ${s.errors} errors at ${s.level}; first: ${s.firstError}`);
    if (!s.stable) out.push(`note: ${s.level} did not stabilize within ${s.windows} windows (±${r.stabilityPercentage}%); its figures merge the last 3`);
    if (s.maxSendLagMs !== undefined && s.maxSendLagMs > 10) {
      out.push(`note: at ${s.level} req/s the generator sent up to ${ms(s.maxSendLagMs)} ms behind schedule (the client or its machine could not keep up); latencies include the lag`);
    }
  }
  const slo = sloLine(r);
  if (slo) out.push(slo);
  return `${out.join('\n')}\n`;
}
