import { Counter, Histogram } from 'prom-client';
import type { Registry as PromRegistry } from 'prom-client';
import { type AnyContentType, LATENCY_BUCKETS } from '../telemetry/metrics.js';
import type { InferOutcome, ObserveStep, ObservedInference, OutcomeStep, RequestContext, VersionView } from '../core/pipeline.js';
import type { InferRequest, InferResponse, Tensor } from '../protocol/types.js';
import { RolloutWindow } from './arm-stats.js';
import { type RolloutRouter, armOf, trafficShare } from './router.js';

/** Runs a mirrored copy on the candidate (the dataplane's infer with an explicit version). */
export type MirrorInfer = (model: string, version: string, req: InferRequest, ctx: RequestContext) => Promise<InferResponse>;

type RolloutLabel = 'model' | 'rollout' | 'arm';

/** One rollout arm's request, error and latency series. */
interface ArmSeries {
  requests: Counter.Internal;
  errors: Counter.Internal;
  latency: Histogram.Internal<RolloutLabel>;
}

/** Relative tolerance for regression outputs (one value per row) to count as agreeing. */
const REGRESSION_TOLERANCE = 1e-3;

/**
 * Counts each arm's requests, errors and latency per interval (an outcome step), and mirrors
 * a share of baseline requests to the candidate off the request path (an observe step),
 * comparing predictions row by row; the client's answer is never touched.
 */
export class RolloutTraffic implements OutcomeStep, ObserveStep {
  readonly name = 'rollout';
  private readonly windows = new Map<string, RolloutWindow>();
  private readonly requests: Counter<RolloutLabel>;
  private readonly errors: Counter<RolloutLabel>;
  private readonly mirrored: Counter<'model' | 'rollout'>;
  private readonly latency: Histogram<RolloutLabel>;
  private readonly series = new Map<string, Partial<Record<'baseline' | 'candidate', ArmSeries>>>();

  constructor(
    private readonly router: RolloutRouter,
    private readonly mirror: MirrorInfer,
    registry: PromRegistry<AnyContentType>,
  ) {
    const registers = [registry];
    this.requests = new Counter({ name: 'infergate_rollout_requests_total', help: 'Requests a rollout routed, per arm', labelNames: ['model', 'rollout', 'arm'], registers });
    this.errors = new Counter({ name: 'infergate_rollout_errors_total', help: 'Failed requests a rollout routed, per arm', labelNames: ['model', 'rollout', 'arm'], registers });
    this.mirrored = new Counter({ name: 'infergate_rollout_mirrored_total', help: 'Baseline requests copied to the candidate', labelNames: ['model', 'rollout'], registers });
    this.latency = new Histogram({
      name: 'infergate_rollout_request_duration_seconds',
      help: "Dataplane time of a rollout's requests per arm (arm 'mirror': copies run on the candidate), in the buckets the analysis reads its percentiles from",
      labelNames: ['model', 'rollout', 'arm'], buckets: LATENCY_BUCKETS, registers,
    });
  }

  /** The current interval's figures of a rollout (created on first use). */
  window(id: string): RolloutWindow {
    let w = this.windows.get(id);
    if (!w) this.windows.set(id, (w = new RolloutWindow()));
    return w;
  }

  /** Returns what was counted since the last take and starts afresh (the controller adds it to the shared interval). */
  take(id: string): RolloutWindow {
    const w = this.window(id);
    this.windows.set(id, new RolloutWindow());
    return w;
  }

  forget(id: string): void {
    this.windows.delete(id);
    this.series.delete(id);
  }

  /** A rollout arm's metric children, made once (labels are not hashed per request). */
  private seriesOf(model: string, id: string, arm: 'baseline' | 'candidate'): ArmSeries {
    let byArm = this.series.get(id);
    if (!byArm) this.series.set(id, (byArm = {}));
    let s = byArm[arm];
    if (!s) {
      const labels = { model, rollout: id, arm };
      s = byArm[arm] = { requests: this.requests.labels(labels), errors: this.errors.labels(labels), latency: this.latency.labels(labels) };
    }
    return s;
  }

  /** Only requests a rollout routed are counted. */
  wants(ctx: RequestContext): boolean {
    return ctx.responseParameters?.rollout !== undefined;
  }

  outcome(o: InferOutcome): void {
    const a = armOf(o.ctx);
    if (!a) return;
    const w = this.window(a.id);
    w[a.arm].record(o.seconds, o.error !== undefined);
    const m = this.seriesOf(o.model, a.id, a.arm);
    m.latency.observe(o.seconds);
    m.requests.inc();
    if (o.error !== undefined) m.errors.inc();
  }

  appliesTo(v: VersionView): boolean {
    const r = this.router.of(v.name);
    return r !== undefined && r.spec.mirrorPercent > 0 && r.baselineVersion === v.version;
  }

  observe(o: ObservedInference): void {
    const a = armOf(o.ctx);
    const r = this.router.of(o.version.name);
    if (!a || a.arm !== 'baseline' || !r || r.id !== a.id || r.phase !== 'PROGRESSING') return;
    if (Math.random() * 100 >= r.spec.mirrorPercent) return;
    this.mirrored.inc({ model: r.spec.model, rollout: r.id });
    const copy: InferRequest = { id: o.request.id, inputs: o.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: [...t.shape], data: t.data })) };
    // No responseParameters on this context: the outcome step does not count it as routed traffic.
    // The copy joins the candidate's queue as part of the candidate's share of the traffic.
    const ctx: RequestContext = { source: 'direct', headers: {}, trafficShare: trafficShare(r, 'candidate') };
    const t0 = performance.now();
    const labels = { model: r.spec.model, rollout: r.id, arm: 'mirror' };
    // Counted into the interval current when the copy finishes (the window may have been taken meanwhile).
    const done = (failed: boolean) => {
      const seconds = (performance.now() - t0) / 1000;
      this.latency.observe(labels, seconds);
      const w = this.window(r.id);
      w.candidate.record(seconds, failed);
      return w;
    };
    this.mirror(r.spec.model, r.candidateVersion, copy, ctx).then(
      (res) => {
        const w = done(false);
        const { rows, differing } = compare(o.outputs[0], res.outputs.find((t) => t.name === o.outputs[0]?.name));
        w.mirroredRows += rows;
        w.disagreeingRows += differing;
      },
      () => void done(true),
    );
  }
}

/** Rows compared and rows whose prediction differs: argmax of each row (classification), or the value beyond a tolerance (one column). */
export function compare(base: Tensor | undefined, cand: Tensor | undefined): { rows: number; differing: number } {
  if (!base || !cand || typeof base.data[0] !== 'number' || typeof cand.data[0] !== 'number') return { rows: 0, differing: 0 };
  const b = base.data as ArrayLike<number>;
  const c = cand.data as ArrayLike<number>;
  if (b.length !== c.length || b.length === 0) return { rows: 0, differing: 0 };
  const width = base.shape.length > 1 ? base.shape[base.shape.length - 1] : 1;
  const rows = Math.floor(b.length / Math.max(width, 1));
  let differing = 0;
  for (let r = 0; r < rows; r++) {
    if (width === 1) {
      const x = b[r];
      const y = c[r];
      if (Math.abs(x - y) > REGRESSION_TOLERANCE * Math.max(1, Math.abs(x))) differing++;
    } else if (argmax(b, r * width, width) !== argmax(c, r * width, width)) differing++;
  }
  return { rows, differing };
}

function argmax(a: ArrayLike<number>, from: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[from + i] > a[from + best]) best = i;
  return best;
}
