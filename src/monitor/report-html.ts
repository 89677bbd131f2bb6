import type { DriftReport, FeatureDrift, LiveSnapshot } from './drift.js';
import type { Feature } from './profile.js';
import type { Sample } from './stats/tests.js';
import { valueCounts } from './stats/tests.js';

/** Shares per bucket of the reference and of the live window, over the same buckets. */
export interface Histogram {
  labels: string[];
  reference: number[];
  live: number[];
}

const NUMERIC_BINS = 20;
const MAX_CATEGORIES = 20;

/** Equal-width bins over both samples (numerical) or one bucket per category, most common first. */
export function histogram(ref: Sample, live: Sample, kind: Feature['kind']): Histogram {
  if (kind === 'numerical' && ref instanceof Float64Array && live instanceof Float64Array) {
    const lo = live.length ? Math.min(ref[0], live[0]) : ref[0];
    const hi = live.length ? Math.max(ref[ref.length - 1], live[live.length - 1]) : ref[ref.length - 1];
    const bins = hi > lo ? NUMERIC_BINS : 1;
    const width = (hi - lo) / bins || 1;
    const count = (s: Float64Array) => {
      const c = new Array<number>(bins).fill(0);
      for (const x of s) c[Math.min(bins - 1, Math.floor((x - lo) / width))]++;
      return c.map((n) => (s.length ? n / s.length : 0));
    };
    return { labels: Array.from({ length: bins }, (_, i) => formatNumber(lo + i * width)), reference: count(ref), live: count(live) };
  }
  const rc = valueCounts(ref);
  const lc = valueCounts(live);
  const keys = [...new Set([...rc.keys(), ...lc.keys()])].sort((a, b) => (rc.get(b) ?? 0) - (rc.get(a) ?? 0) || (lc.get(b) ?? 0) - (lc.get(a) ?? 0));
  const shown = keys.slice(0, MAX_CATEGORIES);
  const rest = keys.slice(MAX_CATEGORIES);
  const share = (m: Map<number | string, number>, n: number, ks: (number | string)[]) => (n ? ks.reduce<number>((s, k) => s + (m.get(k) ?? 0), 0) / n : 0);
  const h: Histogram = {
    labels: shown.map(String),
    reference: shown.map((k) => share(rc, ref.length, [k])),
    live: shown.map((k) => share(lc, live.length, [k])),
  };
  if (rest.length) {
    h.labels.push(`${rest.length} more`);
    h.reference.push(share(rc, ref.length, rest));
    h.live.push(share(lc, live.length, rest));
  }
  return h;
}

function formatNumber(x: number): string {
  return Math.abs(x) >= 1e5 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : String(Number(x.toPrecision(4)));
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const W = 520;
const H = 170;
const PAD = 24;

/** Reference and live shares as overlaid bars in one inline SVG. */
function svgHistogram(h: Histogram, name: string): string {
  const n = h.labels.length;
  const max = Math.max(...h.reference, ...h.live, 1e-12);
  const bw = (W - 2 * PAD) / n;
  const y = (v: number) => H - PAD - (v / max) * (H - 2 * PAD);
  const bars: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = PAD + i * bw;
    const tip = (what: string, v: number) => `<title>${escapeHtml(`${h.labels[i]}: ${what} ${(v * 100).toFixed(1)}%`)}</title>`;
    bars.push(`<rect class="bar-ref" x="${x.toFixed(1)}" y="${y(h.reference[i]).toFixed(1)}" width="${Math.max(bw - 1, 1).toFixed(1)}" height="${(H - PAD - y(h.reference[i])).toFixed(1)}">${tip('reference', h.reference[i])}</rect>`);
    bars.push(`<rect class="bar-live" x="${x.toFixed(1)}" y="${y(h.live[i]).toFixed(1)}" width="${Math.max(bw - 1, 1).toFixed(1)}" height="${(H - PAD - y(h.live[i])).toFixed(1)}">${tip('live', h.live[i])}</rect>`);
  }
  const first = escapeHtml(h.labels[0] ?? '');
  const last = escapeHtml(h.labels[n - 1] ?? '');
  return `<svg class="histogram" role="img" aria-label="${escapeHtml(name)}: reference and live distribution" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`
    + `<line x1="${PAD}" y1="${H - PAD}" x2="${W - PAD}" y2="${H - PAD}" stroke="#888"/>${bars.join('')}`
    + `<text x="${PAD}" y="${H - 6}" font-size="11">${first}</text><text x="${W - PAD}" y="${H - 6}" font-size="11" text-anchor="end">${last}</text>`
    + `<text x="${PAD}" y="14" font-size="11">max ${(max * 100).toFixed(1)}%</text></svg>`;
}

function statLine(f: FeatureDrift): string {
  const v = (x: number | null) => (x === null ? 'n/a' : Number(x.toPrecision(4)).toString());
  const p = f.p_value === null ? '' : `, p-value ${v(f.p_value)}`;
  return `${escapeHtml(f.stattest)}: statistic ${v(f.statistic)}${p}, threshold ${f.threshold}, ${f.kind}, ${f.live_values} live values`;
}

/** The drift report page: every feature's reference and live histogram overlaid, drifted features first. */
export function renderDriftReport(report: DriftReport, features: readonly Feature[], live: LiveSnapshot): string {
  const byName = new Map(features.map((f, i) => [f.name, { feat: f, sample: live.samples[i] }]));
  const ordered = [...report.features].sort((a, b) => Number(b.drift_detected) - Number(a.drift_detected));
  const sections = ordered.map((f) => {
    const { feat, sample } = byName.get(f.name)!;
    const h = histogram(feat.reference, sample, feat.kind);
    const cls = f.drift_detected ? 'feature drifted' : 'feature';
    return `<section class="${cls}" data-feature="${escapeHtml(f.name)}"><h2>${escapeHtml(f.name)} <span class="verdict">${f.drift_detected ? 'drift' : 'no drift'}</span></h2>`
      + `<p class="stat">${statLine(f)}</p>${svgHistogram(h, f.name)}</section>`;
  });
  const title = `Drift: ${report.model_name} version ${report.model_version}`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
.summary{margin-bottom:16px}.legend span{display:inline-block;padding:2px 8px;margin-right:8px;border-radius:3px}
.feature{border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:12px 0;max-width:${W + 40}px}
.feature.drifted{border-color:#c0392b}.verdict{font-size:13px;font-weight:normal;color:#666}
.drifted .verdict{color:#c0392b;font-weight:bold}h2{font-size:16px;margin:4px 0}.stat{font-size:12px;color:#555;margin:4px 0}
.bar-ref{fill:#2e86de;fill-opacity:.45}.bar-live{fill:#e67e22;fill-opacity:.45}
</style></head><body><h1>${escapeHtml(title)}</h1>
<p class="summary" id="summary">dataset drift: <b>${report.dataset_drift ? 'yes' : 'no'}</b> (${report.number_of_drifted_features} of ${report.features.length} features drifted, share ${report.share_of_drifted_features.toFixed(3)}, drift_share ${report.drift_share}); ${report.window_rows} live rows against ${report.reference_rows} reference rows; computed ${escapeHtml(report.computed_at)}</p>
<p class="legend"><span style="background:rgba(46,134,222,.45)">reference</span><span style="background:rgba(230,126,34,.45)">live</span></p>
${sections.join('\n')}
</body></html>`;
}
