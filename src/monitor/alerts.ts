import type { WebhookConfig } from './config.js';
import type { DriftReport, FeatureDrift } from './drift.js';

/** What a webhook receives when a version's drift verdicts change. */
export interface DriftEvent {
  event: 'drift_changed';
  model: string;
  version: string;
  timestamp: string;
  dataset_drift: boolean;
  dataset_drift_changed: boolean;
  share_of_drifted_features: number;
  drift_share: number;
  /** Features whose drift turned on / off with this evaluation. */
  drift_on: string[];
  drift_off: string[];
  /** The statistics of the features that changed. */
  features: Omit<FeatureDrift, 'kind' | 'live_values'>[];
  window: { rows: number; reference_rows: number };
}

/** Outcome of one event's delivery, for metrics and logs. */
export type DeliveryOutcome = { ok: true; attempts: number } | { ok: false; attempts: number; error: string };

/** Events waiting beyond this many are dropped (oldest first): a dead receiver must not grow memory. */
const MAX_QUEUED = 100;

/**
 * Watches a version's drift verdicts and POSTs an event to the webhook whenever the dataset's
 * or any feature's verdict turns on or off; deliveries go one at a time, in order, each with
 * a timeout and retries with doubling backoff.
 */
export class DriftAlerts {
  private readonly state = new Map<string, boolean>();
  private dataset = false;
  private queue: DriftEvent[] = [];
  private sending = false;
  private closed = false;
  private inFlight: AbortController | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly webhook: WebhookConfig | undefined,
    private readonly onOutcome: (outcome: DeliveryOutcome, event: DriftEvent) => void,
  ) {}

  /** Compares a fresh report with the last verdicts; returns the event it queued, if any. */
  update(report: DriftReport): DriftEvent | undefined {
    if (report.window_rows === 0) return undefined; // no rows, no verdict: keep the last one
    const on: string[] = [];
    const off: string[] = [];
    const changed: DriftEvent['features'] = [];
    for (const f of report.features) {
      if (f.live_values === 0) continue;
      const before = this.state.get(f.name) ?? false;
      if (f.drift_detected !== before) {
        (f.drift_detected ? on : off).push(f.name);
        const { kind: _k, live_values: _l, ...stats } = f;
        changed.push(stats);
      }
      this.state.set(f.name, f.drift_detected);
    }
    const datasetChanged = report.dataset_drift !== this.dataset;
    this.dataset = report.dataset_drift;
    if (!on.length && !off.length && !datasetChanged) return undefined;
    const event: DriftEvent = {
      event: 'drift_changed',
      model: report.model_name,
      version: report.model_version,
      timestamp: report.computed_at,
      dataset_drift: report.dataset_drift,
      dataset_drift_changed: datasetChanged,
      share_of_drifted_features: report.share_of_drifted_features,
      drift_share: report.drift_share,
      drift_on: on,
      drift_off: off,
      features: changed,
      window: { rows: report.window_rows, reference_rows: report.reference_rows },
    };
    if (this.webhook && !this.closed) {
      this.queue.push(event);
      if (this.queue.length > MAX_QUEUED) this.queue.shift();
      void this.drain();
    }
    return event;
  }

  /** Resolves when every queued event was delivered or given up on. */
  idle(): Promise<void> {
    if (!this.sending && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops sending: queued events are dropped, an attempt in flight is aborted. */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.inFlight?.abort();
  }

  private async drain(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.queue.length && !this.closed) {
        const event = this.queue.shift()!;
        this.onOutcome(await this.deliver(event), event);
      }
    } finally {
      this.sending = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async deliver(event: DriftEvent): Promise<DeliveryOutcome> {
    const hook = this.webhook!;
    const body = JSON.stringify(event);
    let error = '';
    for (let attempt = 1; attempt <= hook.retries + 1; attempt++) {
      if (this.closed) return { ok: false, attempts: attempt - 1, error: 'monitor closed' };
      const ac = new AbortController();
      this.inFlight = ac;
      const timer = setTimeout(() => ac.abort(new Error(`no answer within ${hook.timeoutMs} ms`)), hook.timeoutMs);
      try {
        const res = await fetch(hook.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: ac.signal });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return { ok: true, attempts: attempt };
        error = `HTTP ${res.status}`;
      } catch (err) {
        const reason = ac.signal.aborted ? ac.signal.reason : err;
        error = reason instanceof Error ? reason.message : String(reason);
      } finally {
        clearTimeout(timer);
        this.inFlight = undefined;
      }
      if (attempt <= hook.retries && !this.closed) await sleep(hook.backoffMs * 2 ** (attempt - 1));
    }
    return { ok: false, attempts: hook.retries + 1, error };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
