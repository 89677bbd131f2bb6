import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { csvField, toCsv, writeCsv, writeJson } from '../../src/bench/report-csv-json.js';
import { escapeHtml, niceMax, renderHtml } from '../../src/bench/report-html.js';
import { formatTable, sloLine } from '../../src/bench/report-table.js';
import type { BenchReport, StepResult } from '../../src/bench/types.js';

const step = (level: number, p99Ms: number, server = true): StepResult => ({
  mode: 'concurrency', level, requests: 1000 * level, errors: 0, inferPerSec: 500 * level, requestsPerSec: 250 * level,
  avgMs: 1.5, p50Ms: 1.2, p90Ms: 2, p95Ms: 2.5, p99Ms, stable: true, windows: 3,
  ...(server ? { server: { requests: 999, queueMs: 0.2, computeInputMs: 0.01, computeInferMs: 0.3, computeOutputMs: 0.01, computeMs: 0.32, serverOtherMs: 0.1, otherMs: 0.98 } } : {}),
});
const report = (steps: StepResult[], extra: Partial<BenchReport> = {}): BenchReport => ({
  model: 'simple', version: '', url: '127.0.0.1:8000', protocol: 'http', httpFormat: 'binary', mode: 'concurrency', batchSize: 2,
  measurementIntervalMs: 5000, stabilityPercentage: 10, startedAt: '2026-01-01T00:00:00.000Z', steps, ...extra,
});

describe('bench table', () => {
  it('has one row per step and the SLO verdict', () => {
    const r = report([step(1, 3), step(2, 8)], { latencyThresholdMs: 5, bestWithinSlo: { level: 1, inferPerSec: 500, p99Ms: 3 }, stoppedAt: 2 });
    const lines = formatTable(r).trim().split('\n');
    expect(lines[1]).toMatch(/^Concurrency\s+Infer\/s\s+Req\/s/);
    expect(lines[3]).toMatch(/^1\s+500\s+250\s/);
    expect(lines[4]).toMatch(/^2\s+1000\s+500\s/);
    expect(sloLine(r)).toBe('max throughput within SLO (p99 <= 5 ms): 500 infer/s at concurrency 1, p99 3.00 ms');
    expect(formatTable(r)).toContain('max throughput within SLO');
  });
  it('shows dashes and the note when the server has no statistics', () => {
    const t = formatTable(report([step(1, 3, false)], { serverStatsNote: 'server-side breakdown skipped: HTTP 404' }));
    expect(t).toMatch(/\s-\s+-\s+-\s/);
    expect(t).toContain('note: server-side breakdown skipped: HTTP 404');
  });
});

describe('bench CSV and JSON', () => {
  it('writes one CSV row per step, latencies in microseconds', () => {
    const csv = toCsv(report([step(1, 3), step(4, 9, false)])).trim().split('\n');
    expect(csv).toHaveLength(3);
    expect(csv[0].split(',')[0]).toBe('Concurrency');
    expect(csv[0]).toContain('p99 latency');
    const cols = csv[0].split(',');
    const row1 = csv[1].split(',');
    expect(row1[cols.indexOf('p99 latency')]).toBe('3000');
    expect(row1[cols.indexOf('Server Queue')]).toBe('200');
    expect(csv[2].split(',')[cols.indexOf('Server Queue')]).toBe('');
    expect(toCsv(report([{ ...step(1, 1), mode: 'request-rate' }], { mode: 'request-rate' })).startsWith('Request Rate,')).toBe(true);
  });
  it('quotes CSV fields that need it', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField(3)).toBe('3');
    expect(csvField(undefined)).toBe('');
  });
  it('writes files that read back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-out-'));
    const r = report([step(1, 3)]);
    writeCsv(join(dir, 'r.csv'), r);
    writeJson(join(dir, 'r.json'), r);
    expect(readFileSync(join(dir, 'r.csv'), 'utf8').split('\n')[1].startsWith('1,500.00,250.00,')).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'))).toEqual(r);
  });
});

describe('bench HTML', () => {
  it('is self-contained with one chart point per step and a bar per part', () => {
    const html = renderHtml(report([step(1, 3), step(2, 5), step(4, 9)], { latencyThresholdMs: 6 }));
    expect(html.match(/class="bench-point"/g)).toHaveLength(3);
    expect(html.match(/class="bench-bar /g)).toHaveLength(9);
    expect(html).not.toMatch(/(src|href)=["']?https?:/);
    expect(html).not.toContain('<script');
    expect(html).toContain('SLO 6 ms');
  });
  it('explains a missing breakdown and escapes text', () => {
    const html = renderHtml(report([step(1, 3, false)], { model: '<m>', serverStatsNote: 'no stats & such' }));
    expect(html).toContain('id="breakdown-missing"');
    expect(html).toContain('no stats &amp; such');
    expect(html).toContain('&lt;m&gt;');
    expect(escapeHtml(`"'`)).toBe('&quot;&#39;');
  });
  it('picks round axis maxima', () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(3)).toBe(5);
    expect(niceMax(1800)).toBe(2000);
    expect(niceMax(21)).toBe(25);
    expect(niceMax(100)).toBe(100);
  });
});
