import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../telemetry/metrics.js';

type Labels = 'model' | 'stream';

/** The stream consumers' Prometheus metrics (labels model and stream, e.g. `redis:tabular.requests`). */
export class StreamMetrics {
  readonly processed: Counter<Labels>;
  readonly failed: Counter<Labels>;
  readonly deadLettered: Counter<Labels>;
  readonly lag: Gauge<Labels>;

  constructor(metrics: Metrics) {
    const registers = [metrics.registry];
    this.processed = new Counter({ name: 'infergate_stream_messages_processed_total', help: 'Stream messages answered (result written and acknowledged)', labelNames: ['model', 'stream'], registers });
    this.failed = new Counter({ name: 'infergate_stream_messages_failed_total', help: 'Stream message deliveries that failed (retried or dead-lettered)', labelNames: ['model', 'stream'], registers });
    this.deadLettered = new Counter({ name: 'infergate_stream_messages_dead_lettered_total', help: 'Stream messages moved to the dead-letter stream with their error', labelNames: ['model', 'stream'], registers });
    this.lag = new Gauge({ name: 'infergate_stream_lag', help: 'Messages of the stream the consumer group has not finished (undelivered plus unacknowledged)', labelNames: ['model', 'stream'], registers });
  }
}
