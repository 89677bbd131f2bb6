import type { ObservedInference, RequestContext, VersionView } from '../core/pipeline.js';
import { invalid } from '../protocol/errors.js';
import type { Tensor } from '../protocol/types.js';
import { type DeliveryOutcome, type DriftEvent, DriftAlerts } from './alerts.js';
import type { MonitoringConfig } from './config.js';
import { type DriftReport, type LiveSnapshot, computeDrift, snapshot } from './drift.js';
import { PredictionLog } from './feedback.js';
import { type ClassificationMetrics, type RegressionMetrics, classScores, classificationMetrics, regressionMetrics } from './performance.js';
import type { ReferenceProfile } from './profile.js';
import { SkewChecker, type SkewViolation } from './skew.js';
import { LiveWindow, Sampler, rowsOf } from './window.js';

/** Warnings listed in a response before the rest are summed up. */
const MAX_WARNINGS = 10;

export interface VersionMonitorHooks {
  onAlert(outcome: DeliveryOutcome, event: DriftEvent): void;
}

/**
 * Everything the monitor keeps for one model version: the live window, the predictions
 * waiting for labels, skew counters, the last drift report and the alert state. Nothing
 * here is shared with another version.
 */
export class VersionMonitor {
  readonly window: LiveWindow;
  readonly log: PredictionLog | undefined;
  readonly skew: SkewChecker;
  /** Skew counts already handed to the Prometheus counter (the metrics add the difference). */
  readonly skewReported: Float64Array;
  private readonly sampler: Sampler;
  private readonly alerts: DriftAlerts;
  private cached: { changes: number; report: DriftReport; live: LiveSnapshot } | undefined;
  private pending: { changes: number; done: Promise<{ report: DriftReport; live: LiveSnapshot }> } | undefined;
  private alertedChanges = -1;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly view: VersionView,
    readonly config: MonitoringConfig,
    readonly profile: ReferenceProfile,
    hooks: VersionMonitorHooks,
  ) {
    this.window = new LiveWindow(config.windowSize, profile);
    this.log = profile.prediction ? new PredictionLog(config.feedback.maxRows, profile.prediction, config.feedback.maxAgeSeconds * 1000) : undefined;
    this.skew = new SkewChecker(profile, config.skewMargin);
    this.skewReported = new Float64Array(this.skew.counts.length);
    this.sampler = new Sampler(config.sampleRate);
    this.alerts = new DriftAlerts(config.webhook, (o, e) => hooks.onAlert(o, e));
    // Background checks feed the webhook; without one, GET and scrapes compute on demand.
    if (config.webhook && config.checkIntervalSeconds > 0) {
      this.timer = setInterval(() => void this.evaluate().catch(() => undefined), config.checkIntervalSeconds * 1000);
      this.timer.unref();
    }
  }

  get name(): string {
    return this.view.name;
  }

  get version(): string {
    return this.view.version;
  }

  /** The observe step for this version: copies a sampled request's rows; O(row), no allocation per value. */
  observe(o: ObservedInference): void {
    if (!this.sampler.take()) return;
    const first = this.profile.inputs[0];
    const rows = rowsOf(first, o.inputs[first.index]);
    if (rows === 0) return;
    const p = this.profile.prediction;
    let prediction: Tensor | undefined = p ? o.outputs[p.index] : undefined;
    if (prediction && prediction.data.length !== rows * p!.width) prediction = undefined;
    this.window.write(o.inputs, prediction, 0, rows);
    if (this.config.skew === 'count') this.skew.check(o.inputs, rows);
    const id = o.request.id;
    if (this.log && prediction && id) this.log.append(id, prediction, rows, performance.now());
  }

  /**
   * The skew check before compute (monitoring.skew warn / reject): every request, not only
   * sampled ones. Inputs are taken by name from the request as sent; a request whose inputs
   * are malformed is left to the model's own validation.
   */
  checkSkew(inputs: readonly Tensor[], ctx: RequestContext): void {
    const mode = this.config.skew;
    if (mode !== 'warn' && mode !== 'reject') return;
    const ordered: Tensor[] = [];
    let rows = Infinity;
    for (const m of this.profile.inputs) {
      const t = inputs.find((x) => x.name === m.name);
      if (!t || t.datatype !== m.datatype || t.data.length % m.width !== 0) return;
      ordered[m.index] = t;
      rows = Math.min(rows, t.data.length / m.width);
    }
    if (!Number.isFinite(rows) || rows === 0) return;
    const found: SkewViolation[] = [];
    if (this.skew.check(ordered, rows, found) === 0) return;
    const lines = found.slice(0, MAX_WARNINGS).map((v) => this.skew.describe(v));
    if (found.length > MAX_WARNINGS) lines.push(`and ${found.length - MAX_WARNINGS} more`);
    if (mode === 'reject') {
      throw invalid(`request refused by the skew check (monitoring.skew: reject) of model '${this.name}' version ${this.version}: ${lines.join('; ')}`);
    }
    ctx.responseParameters ??= {};
    ctx.responseParameters.skew_warnings = lines.join('; ');
  }

  /**
   * The drift report for the window as it is now, with the live values it was computed on:
   * recomputed only when rows came in since, and shared by callers asking at the same time.
   */
  async computed(): Promise<{ report: DriftReport; live: LiveSnapshot; changes: number }> {
    const changes = this.window.changes;
    if (this.cached?.changes === changes) return this.cached;
    if (this.pending?.changes !== changes) {
      const live = snapshot(this.profile, this.window);
      const done = computeDrift(this.name, this.version, this.profile, live, this.config.driftShare).then((report) => ({ report, live }));
      this.pending = { changes, done };
    }
    const { report, live } = await this.pending.done;
    if (!this.cached || this.cached.changes < changes) this.cached = { changes, report, live };
    return { report, live, changes };
  }

  async report(): Promise<DriftReport> {
    return (await this.computed()).report;
  }

  /** Computes the report if stale and lets the alerts see each new one, in window order. */
  async evaluate(): Promise<DriftReport> {
    const { report, changes } = await this.computed();
    if (changes > this.alertedChanges) {
      this.alertedChanges = changes;
      this.alerts.update(report);
    }
    return report;
  }

  /** Empties the live window and the predictions waiting for labels. */
  reset(): void {
    this.window.reset();
    this.log?.clear();
  }

  /** Number of classes a label may name (classification), or undefined for regression. */
  get classes(): number | undefined {
    const p = this.profile.prediction;
    if (!p || p.task === 'regression') return undefined;
    return p.width === 1 ? 2 : p.width;
  }

  /** Realised and estimated performance over the labelled predictions still held. */
  performance(): ClassificationMetrics | RegressionMetrics {
    const p = this.profile.prediction;
    if (!p || !this.log) throw invalid(`model '${this.name}' version ${this.version} has no prediction to score: set monitoring.prediction.output`);
    const rows: { p: Float64Array; label: number }[] = [];
    this.log.forEachLabelled(performance.now(), (pred, label) => rows.push({ p: pred, label }));
    if (p.task === 'regression') return regressionMetrics(rows);
    let sum = 0;
    let n = 0;
    for (let s = 0; s < this.window.size; s++) {
      const pred = this.window.predictionAt(s);
      if (Number.isNaN(pred[0])) continue;
      sum += classScores(pred).top;
      n++;
    }
    return classificationMetrics(rows, { sum, rows: n });
  }

  /** Waits for queued webhook deliveries (tests, shutdown). */
  alertsIdle(): Promise<void> {
    return this.alerts.idle();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.alerts.close();
  }
}
