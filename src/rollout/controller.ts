import { randomBytes } from 'node:crypto';
import { Gauge, type Registry as PromRegistry } from 'prom-client';
import type { AnyContentType } from '../telemetry/metrics.js';
import type { Monitor } from '../monitor/monitor.js';
import { invalidParam } from '../registry/errors.js';
import type { Registry } from '../registry/registry.js';
import { DEFAULT_SERVING_ALIAS } from '../registry/types.js';
import { analyse } from './analysis.js';
import { RolloutWindow } from './arm-stats.js';
import type { RolloutRouter } from './router.js';
import { type RolloutSpec, parseRolloutSpec } from './spec.js';
import { RolloutStore } from './store.js';
import type { RolloutTraffic } from './traffic.js';
import { type AnalysisRun, type MonitorFigures, PHASES, type Rollout, isActive } from './types.js';

export interface RolloutControllerOptions {
  registry: Registry;
  router: RolloutRouter;
  traffic: RolloutTraffic;
  metrics: PromRegistry<AnyContentType>;
  log: { info(msg: string): void; warn(msg: string): void };
  /** The drift monitor, for the accuracy and dataset_drift checks. */
  monitor?: Monitor;
  /** How often rollouts are read back from the store and due analyses run (default 500 ms). */
  tickMs?: number;
}

const WHO = 'infergate-rollout';
/** The alias that keeps a rollout's versions loaded while it runs (the catalog loads what aliases name). */
const pinAlias = (id: string, arm: 'baseline' | 'candidate') => `rollout-${id}-${arm}`;

/**
 * Drives rollouts: creates them, runs each one's analysis once per interval in the process
 * that holds its lease, advances steps, promotes through the registry's alias path or rolls
 * back, and keeps every process's router in line with the stored state by polling.
 */
export class RolloutController {
  readonly store: RolloutStore;
  /** This process's name for leases. */
  readonly owner = `${process.pid}-${randomBytes(4).toString('hex')}`;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  /** Per rollout: the interval this process last stored its counts in, and those counts. */
  private readonly counted = new Map<string, { window: number; stored: RolloutWindow }>();
  private readonly leased = new Set<string>();
  private readonly tickMs: number;

  constructor(private readonly opts: RolloutControllerOptions) {
    this.store = new RolloutStore(opts.registry.store.db);
    this.tickMs = opts.tickMs ?? 500;
    const registers = [opts.metrics];
    const active = () => this.activeNow();
    new Gauge({
      name: 'infergate_rollout_weight', help: "The candidate's share of routed traffic (percent)", labelNames: ['model', 'rollout'], registers,
      collect() {
        this.reset();
        for (const r of active()) this.set({ model: r.spec.model, rollout: r.id }, r.weight);
      },
    });
    new Gauge({
      name: 'infergate_rollout_phase', help: '1 for the phase an active rollout is in, else 0', labelNames: ['model', 'rollout', 'phase'], registers,
      collect() {
        this.reset();
        for (const r of active()) for (const p of PHASES) this.set({ model: r.spec.model, rollout: r.id, phase: p }, r.phase === p ? 1 : 0);
      },
    });
  }

  private current: Rollout[] = [];
  private activeNow(): Rollout[] {
    return this.current;
  }

  /** Reads the active rollouts, routes by them, and starts the loop. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => {
      if (!this.ticking) this.ticking = this.tick().catch((e: Error) => this.opts.log.warn(`rollout loop: ${e.message}`)).finally(() => (this.ticking = undefined));
    }, this.tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    for (const id of this.leased) await this.store.release(id, this.owner).catch(() => {});
    this.leased.clear();
  }

  private async refresh(): Promise<void> {
    this.current = await this.store.list({ active: true });
    this.opts.router.set(this.current);
  }

  private publish(r: Rollout): void {
    this.current = [...this.current.filter((x) => x.id !== r.id), ...(isActive(r.phase) ? [r] : [])];
    this.opts.router.set(this.current);
  }

  /**
   * One pass: follow the store; add this process's traffic to each rollout's shared interval;
   * for each rollout this process drives, run its analysis when the interval is over.
   */
  async tick(now = Date.now()): Promise<void> {
    await this.refresh();
    for (const r of this.current) {
      await this.share(r);
      const ttl = Math.max(3 * this.tickMs, 2000);
      const mine = await this.store.lease(r.id, this.owner, now, ttl);
      if (!mine) {
        this.leased.delete(r.id);
        continue;
      }
      if (!this.leased.has(r.id)) {
        this.leased.add(r.id);
        this.opts.log.info(`rollout ${r.id} (${r.spec.model}): this process drives it (step ${r.stepIndex}, weight ${r.weight}%)`);
      }
      if (r.phase !== 'PROGRESSING') continue;
      if (now - (r.windowStartedAt ?? r.updatedAt) < r.spec.intervalMs) continue;
      await this.runAnalysis(r, now);
    }
  }

  /**
   * Adds what this process counted since the last pass to the rollout's current interval in
   * the store, so the driving gateway analyses every gateway's traffic. Traffic that reaches
   * the store after its interval was analysed counts in the next one; none is dropped.
   */
  private async share(r: Rollout): Promise<void> {
    const delta = this.opts.traffic.take(r.id);
    let s = this.counted.get(r.id);
    if (!s || (r.window ?? 0) > s.window) this.counted.set(r.id, (s = { window: r.window ?? 0, stored: new RolloutWindow() }));
    if (delta.empty) return;
    for (let attempt = 0; attempt < 2; attempt++) {
      const total = new RolloutWindow().add(s.stored.counts()).add(delta.counts());
      const res = await this.store.addTraffic(r.id, s.window, this.owner, total.counts());
      if (res.stored) {
        s.stored = total;
        return;
      }
      if (res.window < 0) {
        this.counted.delete(r.id);
        return;
      }
      s.window = res.window;
      s.stored = new RolloutWindow();
    }
    // The interval moved twice meanwhile: keep the counts for the next pass.
    this.opts.traffic.window(r.id).add(delta.counts());
  }

  private async runAnalysis(r: Rollout, now: number): Promise<void> {
    const monitor = await this.monitorFigures(r);
    const window = r.window ?? 0;
    const done: { run?: AnalysisRun; promote?: boolean; rollback?: string } = {};
    const next = await this.store.update(WHO, r.id, async (cur, pooled) => {
      // Changed meanwhile (paused, stepped, ended, or analysed by another driver): nothing to do.
      if (cur.phase !== 'PROGRESSING' || cur.stepIndex !== r.stepIndex || (cur.window ?? 0) !== window) return undefined;
      const run = analyse(cur, await pooled(), now, monitor);
      done.run = run;
      const n: Rollout = { ...cur, runs: [...cur.runs, run] };
      if (run.outcome === 'failed') {
        n.failures++;
        if (n.failures >= n.spec.failureLimit) {
          done.rollback = `analysis failed ${n.failures} time(s) (failure_limit ${n.spec.failureLimit}): ${run.failedChecks.join('; ')}`;
          Object.assign(n, { phase: 'ROLLED_BACK', weight: 0, reason: done.rollback });
        }
      } else if (run.outcome === 'passed' && n.spec.strategy !== 'shadow' && n.spec.steps.length > 0) {
        if (n.stepIndex + 1 < n.spec.steps.length) {
          n.stepIndex++;
          n.weight = n.spec.steps[n.stepIndex];
        } else done.promote = true;
      }
      return { next: n, action: 'rollout_analysis', detail: { run }, newWindow: true };
    });
    const run = done.run;
    if (!run) return;
    const line = `rollout ${r.id} (${r.spec.model} ${r.baselineVersion} -> ${r.candidateVersion}) step ${r.stepIndex} at ${r.weight}%: ${run.outcome}` +
      (run.failedChecks.length ? ` (${run.failedChecks.join('; ')})` : run.note ? ` (${run.note})` : '') +
      ` baseline ${run.baseline.requests} req, candidate ${run.candidate.requests} req, disagreement ${run.disagreement === null ? 'n/a' : `${run.disagreement.toFixed(1)}%`}`;
    (run.outcome === 'failed' ? this.opts.log.warn : this.opts.log.info).call(this.opts.log, line);
    this.publish(next);
    if (done.rollback) await this.finished(next, 'rollout.rolled_back');
    else if (done.promote) await this.promoteNow(next, 'every step passed its analysis');
  }

  /** What the drift monitor says of both versions, when a check asks for it and the versions are monitored. */
  private async monitorFigures(r: Rollout): Promise<MonitorFigures | undefined> {
    const monitor = this.opts.monitor;
    if (!monitor || !r.spec.analysis.some((c) => c.metric === 'accuracy' || c.metric === 'dataset_drift')) return undefined;
    const vms = monitor.ofModel(r.spec.model);
    const of = (v: string) => vms.find((vm) => vm.version === v);
    const accuracy = (v: string): { acc: number | null; rows: number } => {
      const vm = of(v);
      if (!vm?.log) return { acc: null, rows: 0 };
      const p = vm.performance();
      return p.task === 'classification' ? { acc: p.accuracy, rows: p.labelled_rows } : { acc: null, rows: 0 };
    };
    const b = accuracy(r.baselineVersion);
    const c = accuracy(r.candidateVersion);
    const cvm = of(r.candidateVersion);
    const drift = cvm ? await cvm.report().then((rep) => rep.dataset_drift, () => null) : null;
    return { baselineAccuracy: b.acc, candidateAccuracy: c.acc, baselineLabelled: b.rows, candidateLabelled: c.rows, candidateDrift: drift };
  }

  /** Creates a rollout from a spec (wire form): resolves both versions, pins them loaded, stores it PROGRESSING at its first step. */
  async create(who: string, input: unknown): Promise<Rollout> {
    const spec = parseRolloutSpec(input);
    const { store, serving } = this.opts.registry;
    const versionOf = async (field: 'baseline' | 'candidate', ref: string) => {
      const v = /^\d+$/.test(ref) ? await store.getVersion(spec.model, ref) : await store.getVersionByAlias(spec.model, ref);
      if (v.status !== 'READY') throw invalidParam(`rollout spec: field '${field}': version ${v.version} is ${v.status}`);
      return v.version;
    };
    const baselineVersion = await versionOf('baseline', spec.baseline);
    const candidateVersion = await versionOf('candidate', spec.candidate);
    if (baselineVersion === candidateVersion) throw invalidParam(`rollout spec: field 'candidate' names version ${candidateVersion}, which is already the baseline`);
    const servingAlias = serving.servedModels().find((m) => m.name === spec.model)?.servingAlias ?? DEFAULT_SERVING_ALIAS;
    const id = `r${randomBytes(4).toString('hex')}`;
    const now = Date.now();
    const r: Rollout = {
      id, spec, phase: 'PROGRESSING', stepIndex: 0, weight: spec.strategy === 'shadow' ? 0 : spec.steps[0] ?? 0, failures: 0,
      baselineVersion, candidateVersion, promoteAlias: /^\d+$/.test(spec.baseline) ? servingAlias : spec.baseline,
      runs: [], createdAt: now, updatedAt: now,
    };
    await store.setAlias(who, spec.model, pinAlias(id, 'baseline'), baselineVersion);
    await store.setAlias(who, spec.model, pinAlias(id, 'candidate'), candidateVersion);
    try {
      await this.store.create(who, r);
    } catch (err) {
      await this.unpin(who, r);
      throw err;
    }
    this.opts.log.info(`rollout ${id} created: ${spec.model} ${baselineVersion} -> ${candidateVersion} (${spec.strategy}, steps ${spec.steps.join(',') || 'none'})`);
    this.publish(r);
    return r;
  }

  get(id: string): Promise<Rollout> {
    return this.store.get(id);
  }

  list(model?: string): Promise<Rollout[]> {
    return this.store.list({ model });
  }

  /** Holds the weight where it is; analysis stops until resumed. */
  async pause(who: string, id: string): Promise<Rollout> {
    return this.change(who, id, 'rollout_paused', (r) => {
      if (r.phase !== 'PROGRESSING') throw invalidParam(`rollout ${id} is ${r.phase}; only a PROGRESSING rollout can be paused`);
      return { ...r, phase: 'PAUSED' };
    });
  }

  async resume(who: string, id: string): Promise<Rollout> {
    return this.change(who, id, 'rollout_resumed', (r) => {
      if (r.phase !== 'PAUSED') throw invalidParam(`rollout ${id} is ${r.phase}; only a PAUSED rollout can be resumed`);
      return { ...r, phase: 'PROGRESSING', reason: undefined };
    });
  }

  /** Ends it now: the candidate's weight drops to 0, the alias stays. */
  async abort(who: string, id: string, reason = 'aborted by request'): Promise<Rollout> {
    const r = await this.change(who, id, 'rollout_aborted', (cur) => {
      if (!isActive(cur.phase)) throw invalidParam(`rollout ${id} has already ended (${cur.phase})`);
      return { ...cur, phase: 'ROLLED_BACK', weight: 0, reason: `${reason} (by ${who})` };
    });
    await this.finished(r, 'rollout.rolled_back');
    return r;
  }

  /** Skips the remaining steps and promotes now. */
  async promote(who: string, id: string): Promise<Rollout> {
    const r = await this.store.get(id);
    if (!isActive(r.phase)) throw invalidParam(`rollout ${id} has already ended (${r.phase})`);
    return this.promoteNow(r, `promoted by ${who}`, who, true);
  }

  /** Moves the baseline alias to the candidate through the registry (approval rules apply); a refusal pauses the rollout with the reason. */
  private async promoteNow(r: Rollout, why: string, who = WHO, rethrow = false): Promise<Rollout> {
    try {
      await this.opts.registry.store.setAlias(who, r.spec.model, r.promoteAlias, r.candidateVersion);
    } catch (err) {
      const reason = `promotion refused: ${(err as Error).message}`;
      this.opts.log.warn(`rollout ${r.id}: ${reason}`);
      const paused = await this.change(who, r.id, 'rollout_promotion_refused', (cur) => ({ ...cur, phase: 'PAUSED', reason }));
      if (rethrow) throw err;
      return paused;
    }
    const done = await this.change(who, r.id, 'rollout_succeeded', (cur) => ({ ...cur, phase: 'SUCCEEDED', weight: 100, reason: why }));
    this.opts.log.info(`rollout ${r.id}: ${r.spec.model} alias '${r.promoteAlias}' now on version ${r.candidateVersion} (${why})`);
    await this.finished(done, 'rollout.succeeded');
    return done;
  }

  private async change(who: string, id: string, action: string, fn: (r: Rollout) => Rollout): Promise<Rollout> {
    const next = await this.store.update(who, id, (r) => ({ next: fn(r), action, detail: {} }));
    this.publish(next);
    return next;
  }

  /** After a rollout ends: its pins go (versions nothing else names unload), and the webhook hears of it. */
  private async finished(r: Rollout, event: string): Promise<void> {
    this.opts.traffic.forget(r.id);
    this.counted.delete(r.id);
    if (r.phase === 'ROLLED_BACK') this.opts.log.warn(`rollout ${r.id} rolled back: ${r.reason}`);
    await this.unpin(WHO, r);
    if (r.spec.webhook) await sendWebhook(r.spec.webhook, event, r).catch((e: Error) => this.opts.log.warn(`rollout ${r.id}: webhook ${r.spec.webhook} failed: ${e.message}`));
  }

  private async unpin(who: string, r: Rollout): Promise<void> {
    for (const arm of ['baseline', 'candidate'] as const) {
      await this.opts.registry.store.deleteAlias(who, r.spec.model, pinAlias(r.id, arm)).catch((e: Error) => this.opts.log.warn(`rollout ${r.id}: ${e.message}`));
    }
  }
}

async function sendWebhook(url: string, event: string, r: Rollout): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ event, rollout: r.id, model: r.spec.model, phase: r.phase, reason: r.reason, baseline_version: r.baselineVersion, candidate_version: r.candidateVersion }),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
}

export type { RolloutSpec };
