import { writeFileSync } from 'node:fs';
import { formatTable, levelTitle, sloLine } from './report-table.js';
import type { BenchReport } from './types.js';

/**
 * A self-contained HTML report: inline CSS and hand-made SVG, no scripts or external URLs,
 * so it opens offline and can be attached to a ticket. Chart points carry class
 * "bench-point" and data-level so tests (and people) can find them.
 */

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A round axis maximum (1, 2, 2.5, 5 x 10^k) at or above v. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const W = 640;
const H = 320;
const PAD = { l: 60, r: 20, t: 20, b: 44 };
const PW = W - PAD.l - PAD.r;
const PH = H - PAD.t - PAD.b;
const f = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString());

function axes(xMax: number, yMax: number, xLabel: string, yLabel: string, xTicks = true): string {
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const y = PAD.t + PH - (i / 4) * PH;
    parts.push(`<line x1="${PAD.l}" y1="${y}" x2="${PAD.l + PW}" y2="${y}" class="grid"/>`);
    parts.push(`<text x="${PAD.l - 6}" y="${y + 4}" text-anchor="end">${f((i / 4) * yMax)}</text>`);
    if (xTicks) {
      const x = PAD.l + (i / 4) * PW;
      parts.push(`<text x="${x}" y="${PAD.t + PH + 16}" text-anchor="middle">${f((i / 4) * xMax)}</text>`);
    }
  }
  parts.push(`<line x1="${PAD.l}" y1="${PAD.t + PH}" x2="${PAD.l + PW}" y2="${PAD.t + PH}" class="axis"/>`);
  parts.push(`<line x1="${PAD.l}" y1="${PAD.t}" x2="${PAD.l}" y2="${PAD.t + PH}" class="axis"/>`);
  parts.push(`<text x="${PAD.l + PW / 2}" y="${H - 6}" text-anchor="middle" class="label">${escapeHtml(xLabel)}</text>`);
  parts.push(`<text x="14" y="${PAD.t + PH / 2}" text-anchor="middle" class="label" transform="rotate(-90 14 ${PAD.t + PH / 2})">${escapeHtml(yLabel)}</text>`);
  return parts.join('');
}

/** Throughput (x) against p99 and p50 latency (y): one point per step, in sweep order. */
export function latencyCurveSvg(r: BenchReport): string {
  const xMax = niceMax(Math.max(0, ...r.steps.map((s) => s.inferPerSec)));
  const yMax = niceMax(Math.max(0, ...r.steps.map((s) => s.p99Ms), r.latencyThresholdMs ?? 0));
  const X = (v: number) => PAD.l + (v / xMax) * PW;
  const Y = (v: number) => PAD.t + PH - (v / yMax) * PH;
  const p99 = r.steps.map((s) => `${X(s.inferPerSec).toFixed(1)},${Y(s.p99Ms).toFixed(1)}`).join(' ');
  const p50 = r.steps.map((s) => `${X(s.inferPerSec).toFixed(1)},${Y(s.p50Ms).toFixed(1)}`).join(' ');
  const slo = r.latencyThresholdMs === undefined ? '' :
    `<line x1="${PAD.l}" y1="${Y(r.latencyThresholdMs)}" x2="${PAD.l + PW}" y2="${Y(r.latencyThresholdMs)}" class="slo"/>` +
    `<text x="${PAD.l + PW - 4}" y="${Y(r.latencyThresholdMs) - 4}" text-anchor="end" class="slo-label">SLO ${f(r.latencyThresholdMs)} ms</text>`;
  const points = r.steps.map((s) =>
    `<circle class="bench-point" data-level="${s.level}" cx="${X(s.inferPerSec).toFixed(1)}" cy="${Y(s.p99Ms).toFixed(1)}" r="4">` +
    `<title>${escapeHtml(`${levelTitle(r.mode)} ${s.level}: ${s.inferPerSec.toFixed(1)} infer/s, p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms`)}</title></circle>` +
    `<text x="${(X(s.inferPerSec) + 6).toFixed(1)}" y="${(Y(s.p99Ms) - 6).toFixed(1)}" class="point-label">${s.level}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="latency-curve" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="throughput versus latency">` +
    axes(xMax, yMax, 'throughput (inferences/s)', 'latency (ms)') + slo +
    `<polyline points="${p50}" class="p50"/><polyline points="${p99}" class="p99"/>${points}</svg>`;
}

/** Stacked bars per step: server queue, server compute, and the rest of the client's mean latency. */
export function breakdownSvg(r: BenchReport): string {
  const steps = r.steps.filter((s) => s.server);
  if (steps.length === 0) {
    return `<p class="note" id="breakdown-missing">No server-side breakdown: ${escapeHtml(r.serverStatsNote ?? 'the server counted no requests')}</p>`;
  }
  const yMax = niceMax(Math.max(...steps.map((s) => s.server!.queueMs + s.server!.computeMs + s.server!.otherMs)));
  const Y = (v: number) => (v / yMax) * PH;
  const slot = PW / steps.length;
  const bw = Math.min(48, slot * 0.6);
  const bars = steps.map((s, i) => {
    const b = s.server!;
    const x = PAD.l + i * slot + (slot - bw) / 2;
    let base = PAD.t + PH;
    const seg = (v: number, part: string) => {
      const h = Y(v);
      base -= h;
      return `<rect class="bench-bar ${part}" data-level="${s.level}" data-part="${part}" x="${x.toFixed(1)}" y="${base.toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}"><title>${part} ${v.toFixed(3)} ms</title></rect>`;
    };
    return seg(b.queueMs, 'queue') + seg(b.computeMs, 'compute') + seg(b.otherMs, 'other') +
      `<text x="${(x + bw / 2).toFixed(1)}" y="${PAD.t + PH + 16}" text-anchor="middle">${s.level}</text>`;
  }).join('');
  let lx = PAD.l + 10;
  const legend = [['queue', 'server queue'], ['compute', 'server compute (input+infer+output)'], ['other', 'other (network, codecs, client)']]
    .map(([c, t]) => {
      // ~6 px per character at 11 px: place each item after the previous one's text.
      const x = lx;
      lx += 24 + t.length * 6;
      return `<rect x="${x}" y="4" width="10" height="10" class="${c}"/><text x="${x + 14}" y="13">${t}</text>`;
    }).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="breakdown" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="latency breakdown">` +
    axes(1, yMax, levelTitle(r.mode), 'mean latency (ms)', false) + bars + legend + '</svg>';
}

const CSS = `body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
.chart text{font-size:11px;fill:#444}.chart .label{font-size:12px;fill:#222}
.grid{stroke:#e5e5e5}.axis{stroke:#888}
.p99{fill:none;stroke:#d9480f;stroke-width:2}.p50{fill:none;stroke:#1c7ed6;stroke-width:1.5;stroke-dasharray:4 3}
.bench-point{fill:#d9480f}.point-label{fill:#666}
.slo{stroke:#2b8a3e;stroke-dasharray:6 4}.slo-label{fill:#2b8a3e}
.queue{fill:#fab005}.compute{fill:#1c7ed6}.other{fill:#adb5bd}
pre{background:#f6f8fa;padding:12px;overflow:auto;font-size:12px}.note{color:#862e9c}
.legend span{display:inline-block;margin-right:16px}`;

/** The report page. */
export function renderHtml(r: BenchReport): string {
  const title = `infergate bench: ${r.model}${r.version ? `/${r.version}` : ''}`;
  const slo = sloLine(r);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(`${r.url} over ${r.protocol}${r.httpFormat ? ` (${r.httpFormat})` : ''}, ${r.mode === 'concurrency' ? 'closed loop (concurrency)' : 'open loop (request rate)'}, batch size ${r.batchSize}, ${r.measurementIntervalMs} ms windows, stability ±${r.stabilityPercentage}%, started ${r.startedAt}`)}</p>
${slo ? `<p><strong>${escapeHtml(slo)}</strong></p>` : ''}
<h2>Throughput vs latency</h2>
<p class="legend"><span style="color:#d9480f">● p99</span><span style="color:#1c7ed6">- - p50</span> labels: ${escapeHtml(levelTitle(r.mode).toLowerCase())}</p>
${latencyCurveSvg(r)}
<h2>Where the time goes (mean per request)</h2>
${breakdownSvg(r)}
<h2>Results</h2>
<pre>${escapeHtml(formatTable(r))}</pre>
</body></html>
`;
}

export function writeHtml(file: string, r: BenchReport): void {
  writeFileSync(file, renderHtml(r));
}
