import type { InferDeps } from '../core/infer-call.js';
import type { VersionHook, VersionView } from '../core/pipeline.js';
import type { BackgroundLoop } from '../front-end.js';
import type { Broker } from './broker.js';
import { NatsBroker } from './nats-broker.js';
import { RedisBroker } from './redis-broker.js';
import { type StreamSpec, parseStreams } from './stream-config.js';
import { StreamConsumer } from './stream-consumer.js';
import { StreamMetrics } from './stream-metrics.js';

/**
 * The stream consumers of every model whose config has a `streams` block. As a version hook it
 * validates the block when a version loads (a bad block fails that load, naming the key); as a
 * background loop it runs one consumer per model and stream entry while a version of the
 * model is ready, and stops them (in-flight messages finished) on unload and on shutdown.
 */
export class StreamManager implements VersionHook, BackgroundLoop {
  readonly name = 'streams';
  private readonly specs = new Map<VersionView, StreamSpec[]>();
  private readonly consumers = new Map<string, StreamConsumer>();
  private readonly metrics: StreamMetrics;
  private started = false;
  private unwatch: (() => void) | undefined;
  private reconciling: Promise<void> = Promise.resolve();

  constructor(private readonly deps: InferDeps) {
    this.metrics = new StreamMetrics(deps.metrics);
  }

  load(v: VersionView): void {
    const specs = parseStreams(v.config.extensions.streams);
    if (specs.length) this.specs.set(v, specs);
  }

  unload(v: VersionView): void {
    this.specs.delete(v);
    this.reconcile();
  }

  async start(): Promise<void> {
    this.started = true;
    this.unwatch = this.deps.dataplane.watch(() => this.reconcile());
    await this.reconcile();
  }

  async stop(): Promise<void> {
    this.started = false;
    this.unwatch?.();
    await this.reconcile();
  }

  /** The consumers running now (for tests and logs). */
  running(): StreamConsumer[] {
    return [...this.consumers.values()];
  }

  /** Brings the running consumers in line with the ready versions' blocks (one at a time). */
  private reconcile(): Promise<void> {
    this.reconciling = this.reconciling.then(() => this.apply()).catch((err: Error) => this.deps.log.error({ err }, 'stream consumers'));
    return this.reconciling;
  }

  private async apply(): Promise<void> {
    const wanted = new Map<string, { model: string; spec: StreamSpec }>();
    if (this.started) {
      for (const [v, specs] of this.specs) {
        if (!this.deps.dataplane.modelReady(v.name, v.version)) continue;
        for (const spec of specs) wanted.set(`${v.name} ${JSON.stringify(spec)}`, { model: v.name, spec });
      }
    }
    const stops: Promise<void>[] = [];
    for (const [key, c] of this.consumers) {
      if (wanted.has(key)) continue;
      this.consumers.delete(key);
      stops.push(c.stop());
    }
    await Promise.all(stops);
    for (const [key, { model, spec }] of wanted) {
      if (this.consumers.has(key)) continue;
      const c = new StreamConsumer(model, spec, this.brokerFor(spec), this.deps, this.metrics);
      this.consumers.set(key, c);
      c.start();
    }
  }

  private brokerFor(spec: StreamSpec): Broker {
    if (spec.type === 'redis') return new RedisBroker(spec, (err) => this.deps.log.warn(`redis ${spec.url}: ${err.message}`));
    return new NatsBroker(spec, spec.max_deliver) as unknown as Broker;
  }
}
