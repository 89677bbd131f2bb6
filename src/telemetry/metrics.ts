import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { MODEL_STATES, type ModelState } from '../core/model-state.js';

/** Upper bounds (seconds) of every latency histogram; the rollout analysis reads its percentiles from the same buckets. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

export type AnyContentType = typeof Registry.OPENMETRICS_CONTENT_TYPE | typeof Registry.PROMETHEUS_CONTENT_TYPE;

/** prom-client's constructor takes the content type, though its typings do not say so. */
function openMetricsRegistry(): Registry<AnyContentType> {
  const registry = new Registry<AnyContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return registry;
}

/** The suffix a `*_total` gauge of prom-client's defaults is served under instead. */
export const RENAMED_TOTAL_SUFFIX = '_all';

/**
 * prom-client's default metrics include gauges named `*_total` (nodejs_active_handles_total,
 * nodejs_active_requests_total, nodejs_active_resources_total), which `promtool check metrics`
 * rejects: only counters may end in `_total`. Each is served as `*_all` instead, with the
 * same help, labels and value, read from prom-client's own gauge at scrape time.
 */
function renameTotalGauges(registry: Registry<AnyContentType>): void {
  for (const metric of registry.getMetricsAsArray()) {
    if (!(metric instanceof Gauge) || !metric.name.endsWith('_total')) continue;
    // prom-client keeps help and labelNames on the instance; its typings do not declare them.
    const original = metric as unknown as Gauge & { name: string; help: string; labelNames: string[] };
    registry.removeSingleMetric(original.name);
    new Gauge({
      name: original.name.replace(/_total$/, RENAMED_TOTAL_SUFFIX),
      help: original.help,
      labelNames: original.labelNames,
      registers: [registry],
      async collect() {
        const { values } = await original.get();
        this.reset();
        for (const v of values) this.set(v.labels, v.value);
      },
    });
  }
}

/** What the metrics read at scrape time from live objects. */
export interface MetricSources {
  models(): { model: string; version: string; state: ModelState; provider?: string; queued: number; inFlight: number }[];
  pools(): { pool: string; size: number; active: number }[];
}

/** Prometheus metrics, Triton-like names under infergate_; labels model and version. */
export class Metrics {
  /** OpenMetrics-capable so latency histograms can carry trace-id exemplars; see scrape(). */
  readonly registry = openMetricsRegistry();
  private scrapeLock: Promise<unknown> = Promise.resolve();
  private sources: MetricSources = { models: () => [], pools: () => [] };

  readonly success: Counter<'model' | 'version'>;
  readonly failure: Counter<'model' | 'version' | 'reason'>;
  readonly inferences: Counter<'model' | 'version'>;
  readonly executions: Counter<'model' | 'version'>;
  readonly requestDuration: Histogram<'model' | 'version'>;
  readonly queueDuration: Histogram<'model' | 'version'>;
  readonly computeDuration: Histogram<'model' | 'version'>;
  readonly batchSize: Histogram<'model' | 'version'>;
  readonly loadDuration: Histogram<'model' | 'version'>;
  readonly loadFailures: Counter<'model' | 'version'>;
  readonly requestBytes: Histogram<'model' | 'protocol'>;
  readonly responseBytes: Histogram<'model' | 'protocol'>;
  /** Rows answered per source (http, grpc, batch, stream), beside the counters without that label. */
  readonly rowsBySource: Counter<'model' | 'version' | 'source'>;

  constructor(opts: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const self = this;
    this.success = new Counter({ name: 'infergate_request_success_total', help: 'Inference requests that succeeded', labelNames: ['model', 'version'], registers });
    this.failure = new Counter({ name: 'infergate_request_failure_total', help: 'Inference requests that failed, by reason (error kind)', labelNames: ['model', 'version', 'reason'], registers });
    this.inferences = new Counter({ name: 'infergate_inference_count_total', help: 'Rows inferred (a request of batch 8 counts 8)', labelNames: ['model', 'version'], registers });
    this.executions = new Counter({ name: 'infergate_execution_count_total', help: 'Batches executed on a worker', labelNames: ['model', 'version'], registers });
    this.requestDuration = new Histogram({ name: 'infergate_request_duration_seconds', help: 'Time from a request entering the dataplane to its response, seconds', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers, enableExemplars: true });
    this.queueDuration = new Histogram({ name: 'infergate_queue_duration_seconds', help: 'Time a request waited in its batcher queue, seconds', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers });
    this.computeDuration = new Histogram({ name: 'infergate_compute_duration_seconds', help: 'Time a batch ran in onnxruntime (session.run), seconds', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers });
    this.batchSize = new Histogram({ name: 'infergate_batch_size', help: 'Rows per executed batch', labelNames: ['model', 'version'], buckets: BATCH_BUCKETS, registers });
    this.loadDuration = new Histogram({ name: 'infergate_model_load_duration_seconds', help: 'Time to load a model version (sessions on every worker and warm-up), seconds', labelNames: ['model', 'version'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
    this.loadFailures = new Counter({ name: 'infergate_model_load_failures_total', help: 'Model version loads that failed', labelNames: ['model', 'version'], registers });
    const bytes = [256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
    this.requestBytes = new Histogram({ name: 'infergate_request_bytes', help: 'Inference request body size, bytes', labelNames: ['model', 'protocol'], buckets: bytes, registers });
    this.responseBytes = new Histogram({ name: 'infergate_response_bytes', help: 'Inference response body size, bytes', labelNames: ['model', 'protocol'], buckets: bytes, registers });
    this.rowsBySource = new Counter({ name: 'infergate_rows_by_source_total', help: 'Rows answered, by where the request came from (http, grpc, batch, stream, direct)', labelNames: ['model', 'version', 'source'], registers });
    new Gauge({
      name: 'infergate_pending_requests', help: 'Requests waiting in the batcher queue', labelNames: ['model', 'version'], registers,
      collect() {
        this.reset();
        for (const m of self.sources.models()) this.set({ model: m.model, version: m.version }, m.queued);
      },
    });
    new Gauge({
      name: 'infergate_inflight_batches', help: 'Batches running on workers', labelNames: ['model', 'version'], registers,
      collect() {
        this.reset();
        for (const m of self.sources.models()) this.set({ model: m.model, version: m.version }, m.inFlight);
      },
    });
    new Gauge({
      name: 'infergate_model_state', help: 'Model version load state: 1 for its current state, 0 for the others', labelNames: ['model', 'version', 'state'], registers,
      collect() {
        this.reset();
        for (const m of self.sources.models()) {
          for (const s of MODEL_STATES) this.set({ model: m.model, version: m.version, state: s }, m.state === s ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'infergate_model_provider', help: 'Execution provider a model version runs on (value 1)', labelNames: ['model', 'version', 'provider'], registers,
      collect() {
        this.reset();
        for (const m of self.sources.models()) if (m.provider) this.set({ model: m.model, version: m.version, provider: m.provider }, 1);
      },
    });
    new Gauge({
      name: 'infergate_worker_utilization', help: 'Fraction of a pool\'s workers running a batch at scrape time', labelNames: ['pool'], registers,
      collect() {
        this.reset();
        for (const p of self.sources.pools()) this.set({ pool: p.pool }, p.size ? p.active / p.size : 0);
      },
    });
    if (opts.processMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      renameTotalGauges(this.registry);
    }
    // Plain Prometheus text unless a scraper asks for OpenMetrics (scrape()).
    this.registry.setContentType(Registry.PROMETHEUS_CONTENT_TYPE);
  }

  /**
   * The exposition for one scrape: OpenMetrics (with trace-id exemplars) when the Accept
   * header asks for it, as Prometheus does, else the classic text format.
   */
  scrape(accept = ''): Promise<{ contentType: string; body: string }> {
    const type = accept.includes('application/openmetrics-text') ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE;
    // The registry's format is one setting: scrapes take turns so none sees another's.
    const run = this.scrapeLock.then(async () => {
      this.registry.setContentType(type);
      try {
        return { contentType: type, body: await this.registry.metrics() };
      } finally {
        this.registry.setContentType(Registry.PROMETHEUS_CONTENT_TYPE);
      }
    });
    this.scrapeLock = run.catch(() => undefined);
    return run;
  }

  setSources(s: MetricSources): void {
    this.sources = s;
  }
}
