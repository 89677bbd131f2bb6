import { writeFileSync } from 'node:fs';
import type { BenchReport } from './types.js';

/** CSV columns, perf_analyzer-like names; latencies in microseconds as perf_analyzer's -f writes them. */
const COLUMNS = [
  'Level', 'Inferences/Second', 'Requests/Second', 'Requests', 'Errors', 'Stable',
  'Avg latency', 'p50 latency', 'p90 latency', 'p95 latency', 'p99 latency',
  'Server Queue', 'Server Compute Input', 'Server Compute Infer', 'Server Compute Output', 'Server Overhead', 'Client Other',
] as const;

/** Quotes a CSV field when it holds a comma, quote or newline (RFC 4180). */
export function csvField(v: string | number | boolean | undefined): string {
  if (v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const us = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 1000));

/** The steps as CSV, one row per load level; the first column is concurrency or request rate. */
export function toCsv(r: BenchReport): string {
  const head = [r.mode === 'concurrency' ? 'Concurrency' : 'Request Rate', ...COLUMNS.slice(1)];
  const lines = [head.map(csvField).join(',')];
  for (const s of r.steps) {
    const b = s.server;
    lines.push([
      s.level, s.inferPerSec.toFixed(2), s.requestsPerSec.toFixed(2), s.requests, s.errors, s.stable,
      us(s.avgMs), us(s.p50Ms), us(s.p90Ms), us(s.p95Ms), us(s.p99Ms),
      us(b?.queueMs), us(b?.computeInputMs), us(b?.computeInferMs), us(b?.computeOutputMs), us(b?.serverOtherMs), us(b?.otherMs),
    ].map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** The whole report as pretty JSON (latencies in ms). */
export function toJson(r: BenchReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

export function writeCsv(file: string, r: BenchReport): void {
  writeFileSync(file, toCsv(r));
}

export function writeJson(file: string, r: BenchReport): void {
  writeFileSync(file, toJson(r));
}
