import type { EnrichStep, ObserveStep, ObservedInference, RequestContext, VersionHook, VersionView } from '../core/pipeline.js';
import { invalid } from '../protocol/errors.js';
import type { InferRequest } from '../protocol/types.js';
import type { Metrics } from '../telemetry/metrics.js';
import { parseMonitoringConfig } from './config.js';
import { MonitorMetrics } from './metrics.js';
import { buildProfile } from './profile.js';
import { VersionMonitor } from './version-monitor.js';

export interface MonitorOptions {
  /** The gateway's Prometheus registry. */
  registry: Metrics['registry'];
  /** Where alert delivery failures and load lines go. */
  log?: (msg: string) => void;
}

/**
 * The drift monitor: a version hook (reads each version's `monitoring` block and reference
 * as it loads), an observe step (copies sampled rows into that version's window) and, for
 * `skew: warn | reject`, a check before compute. Versions are independent of each other.
 */
export class Monitor {
  private readonly versions = new Map<VersionView, VersionMonitor>();
  readonly metrics: MonitorMetrics;
  private readonly log: (msg: string) => void;

  /** VersionHook: prepares (or refuses) a version's monitoring as it loads, frees it on unload. */
  readonly hook: VersionHook = {
    name: 'monitor',
    load: (v) => this.load(v),
    unload: (v) => this.unload(v),
  };

  /** ObserveStep: one finished inference into its version's window. */
  readonly observer: ObserveStep = {
    name: 'monitor',
    appliesTo: (v) => this.versions.has(v),
    observe: (o: ObservedInference) => {
      try {
        this.versions.get(o.version)?.observe(o);
      } catch (err) {
        // An observer must never fail a request that already has its answer.
        this.log(`monitor: observing ${o.version.name} version ${o.version.version} failed: ${(err as Error).message}`);
      }
    },
  };

  /** EnrichStep-shaped skew check before compute, for versions with `skew: warn` or `reject`. */
  readonly skewCheck: EnrichStep = {
    name: 'monitor-skew',
    appliesTo: (v) => {
      const s = this.versions.get(v)?.config.skew;
      return s === 'warn' || s === 'reject';
    },
    enrich: (req: InferRequest, v: VersionView, ctx: RequestContext) => this.versions.get(v)?.checkSkew(req.inputs, ctx),
  };

  constructor(opts: MonitorOptions) {
    this.log = opts.log ?? (() => {});
    this.metrics = new MonitorMetrics(opts.registry, () => [...this.versions.values()]);
  }

  private load(v: VersionView): void {
    const raw = v.config.extensions.monitoring;
    if (raw === undefined) return;
    const config = parseMonitoringConfig(raw);
    const profile = buildProfile(v, config);
    this.versions.get(v)?.close();
    this.versions.set(v, new VersionMonitor(v, config, profile, {
      onAlert: (outcome, event) => {
        this.metrics.alert(v, outcome.ok);
        if (!outcome.ok) {
          this.log(`monitor: drift alert for ${v.name} version ${v.version} not delivered after ${outcome.attempts} attempt(s): ${outcome.error} (${config.webhook?.url}; drift on: ${event.drift_on.join(', ') || '-'})`);
        }
      },
    }));
  }

  private unload(v: VersionView): void {
    const vm = this.versions.get(v);
    if (!vm) return;
    vm.close();
    this.versions.delete(v);
    this.metrics.forget(vm);
  }

  /** The monitor of a resolved version; 400 when its config has no `monitoring` block. */
  require(v: VersionView): VersionMonitor {
    const vm = this.versions.get(v);
    if (!vm) {
      throw invalid(`model '${v.name}' version ${v.version} is not monitored: its config.yaml has no 'monitoring' block`);
    }
    return vm;
  }

  /** Every monitored version of a model. */
  ofModel(name: string): VersionMonitor[] {
    return [...this.versions.values()].filter((vm) => vm.name === name);
  }

  /** Every monitored version. */
  all(): VersionMonitor[] {
    return [...this.versions.values()];
  }

  /** Stops timers and webhook deliveries. */
  close(): void {
    for (const vm of this.versions.values()) vm.close();
  }
}
