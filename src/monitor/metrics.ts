import { Counter, Gauge } from 'prom-client';
import type { VersionView } from '../core/pipeline.js';
import type { Metrics } from '../telemetry/metrics.js';
import { SKEW_KINDS } from './skew.js';
import type { VersionMonitor } from './version-monitor.js';

/**
 * The monitor's Prometheus metrics on the gateway's registry. Gauges are read at scrape
 * time from each version's last drift report (recomputed then only if rows came in); the
 * skew counter adds what the versions counted since the last scrape, so the request path
 * never touches prom-client.
 */
export class MonitorMetrics {
  private readonly skew: Counter<'model' | 'version' | 'feature' | 'kind'>;
  private readonly alerts: Counter<'model' | 'version' | 'outcome'>;
  private readonly unknown: Counter<'model'>;

  constructor(registry: Metrics['registry'], versions: () => VersionMonitor[]) {
    const registers = [registry];
    const label = (vm: VersionMonitor) => ({ model: vm.name, version: vm.version });
    new Gauge({
      name: 'infergate_feature_drift_score', registers, labelNames: ['model', 'version', 'feature', 'stattest'],
      help: 'Drift score of a monitored feature as Evidently reports it: the p-value of ks / chisquare / z, the distance of wasserstein / jensenshannon / psi',
      async collect() {
        const reports = await Promise.all(versions().map(async (vm) => [vm, await vm.report()] as const));
        this.reset();
        for (const [vm, r] of reports) {
          if (r.window_rows === 0) continue;
          for (const f of r.features) {
            const score = f.p_value ?? f.statistic;
            if (score !== null) this.set({ ...label(vm), feature: f.name, stattest: f.stattest }, score);
          }
        }
      },
    });
    new Gauge({
      name: 'infergate_feature_drift_detected', registers, labelNames: ['model', 'version', 'feature', 'stattest'],
      help: '1 when the feature drifted from the reference (its test passed its threshold), else 0',
      async collect() {
        const reports = await Promise.all(versions().map(async (vm) => [vm, await vm.report()] as const));
        this.reset();
        for (const [vm, r] of reports) {
          if (r.window_rows === 0) continue;
          for (const f of r.features) this.set({ ...label(vm), feature: f.name, stattest: f.stattest }, f.drift_detected ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'infergate_dataset_drift', registers, labelNames: ['model', 'version'],
      help: '1 when at least drift_share of the monitored features drifted, else 0',
      async collect() {
        const reports = await Promise.all(versions().map(async (vm) => [vm, await vm.report()] as const));
        this.reset();
        for (const [vm, r] of reports) {
          if (r.window_rows > 0) this.set(label(vm), r.dataset_drift ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'infergate_drift_window_rows', registers, labelNames: ['model', 'version'],
      help: 'Live rows in the drift window',
      collect() {
        this.reset();
        for (const vm of versions()) this.set(label(vm), vm.window.size);
      },
    });
    new Gauge({
      name: 'infergate_model_accuracy', registers, labelNames: ['model', 'version'],
      help: 'Accuracy over the predictions that received labels (POST .../feedback)',
      collect() {
        this.reset();
        for (const vm of versions()) {
          if (vm.classes === undefined) continue;
          const p = vm.performance();
          if (p.task === 'classification' && p.accuracy !== null) this.set(label(vm), p.accuracy);
        }
      },
    });
    new Gauge({
      name: 'infergate_model_estimated_accuracy', registers, labelNames: ['model', 'version'],
      help: 'Label-free accuracy estimate: mean top-class probability over the live window (confidence-based, as CBPE)',
      collect() {
        this.reset();
        for (const vm of versions()) {
          if (vm.classes === undefined) continue;
          const p = vm.performance();
          if (p.task === 'classification' && p.estimated_accuracy !== null) this.set(label(vm), p.estimated_accuracy);
        }
      },
    });
    this.skew = new Counter({
      name: 'infergate_skew_violations_total', registers, labelNames: ['model', 'version', 'feature', 'kind'],
      help: 'Observed values outside the reference: out_of_range (beyond [min, max] widened by skew_margin), unseen_category, missing',
      collect() {
        for (const vm of versions()) {
          const counts = vm.skew.counts;
          vm.profile.features.forEach((f, fi) => {
            SKEW_KINDS.forEach((kind, ki) => {
              const i = fi * SKEW_KINDS.length + ki;
              const delta = counts[i] - vm.skewReported[i];
              if (delta > 0) {
                this.inc({ ...label(vm), feature: f.name, kind }, delta);
                vm.skewReported[i] = counts[i];
              }
            });
          });
        }
      },
    });
    this.alerts = new Counter({
      name: 'infergate_drift_alerts_total', registers, labelNames: ['model', 'version', 'outcome'],
      help: 'Drift alert webhook deliveries, by outcome (delivered, failed after every retry)',
    });
    this.unknown = new Counter({
      name: 'infergate_feedback_unknown_ids_total', registers, labelNames: ['model'],
      help: 'Labels whose request id matched no prediction still held (unknown, expired or not sampled)',
    });
  }

  /** Counts one webhook delivery. */
  alert(v: VersionView, ok: boolean): void {
    this.alerts.inc({ model: v.name, version: v.version, outcome: ok ? 'delivered' : 'failed' });
  }

  /** Counts labels that joined nothing. */
  unknownIds(model: string, n: number): void {
    if (n > 0) this.unknown.inc({ model }, n);
  }

  /** Drops an unloaded version's counter series. */
  forget(vm: VersionMonitor): void {
    for (const f of vm.profile.features) {
      for (const kind of SKEW_KINDS) this.skew.remove({ model: vm.name, version: vm.version, feature: f.name, kind });
    }
    for (const outcome of ['delivered', 'failed']) this.alerts.remove({ model: vm.name, version: vm.version, outcome });
  }
}
