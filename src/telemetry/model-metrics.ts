import type { BatchTimings, ModelObserver, VersionLabels } from '../core/model-observer.js';
import type { ErrorKind } from '../protocol/errors.js';
import type { Metrics } from './metrics.js';

/** Feeds a model version's traffic into the Prometheus metrics (labels model, version). */
export class ModelMetrics implements ModelObserver {
  constructor(private readonly metrics: Metrics) {}

  batchFormed(v: VersionLabels, queueNs: readonly number[]): void {
    for (const ns of queueNs) this.metrics.queueDuration.observe(v, ns / 1e9);
  }

  batchDone(v: VersionLabels, t: BatchTimings): void {
    const m = this.metrics;
    m.executions.inc(v);
    m.inferences.inc(v, t.rows);
    m.batchSize.observe(v, t.rows);
    m.computeDuration.observe(v, t.inferNs / 1e9);
  }

  requestDone(v: VersionLabels, ns: number, traceId: string | undefined): void {
    this.metrics.success.inc(v);
    this.metrics.requestDuration.observe({ labels: v, value: ns / 1e9, exemplarLabels: (traceId ? { trace_id: traceId } : {}) as Record<string, string> });
  }

  requestFailed(v: VersionLabels, _ns: number, kind: ErrorKind): void {
    this.metrics.failure.inc({ ...v, reason: kind });
  }
}
