import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { gateServer } from './api/connection-gate.js';
import { httpConnectionSettings, nodeServerOptions, tooManyConnections } from './api/http/connections.js';
import { oipRoutes } from './api/http/oip-routes.js';
import { type HttpPlugin, buildHttpServer } from './api/http/server.js';
import type { ServerConfig } from './config/server-config.js';
import type { BackgroundLoop, FrontEnd, FrontEndDeps, Listener } from './front-end.js';
import { DataPlane } from './core/dataplane.js';
import { ModelLifecycle } from './core/lifecycle.js';
import type { VersionHook } from './core/pipeline.js';
import { PoolLayout } from './core/pool-layout.js';
import { RepositoryScanner } from './core/repository-scanner.js';
import { Router } from './core/router.js';
import { CatalogSync } from './core/catalog-sync.js';
import { registryRoutes } from './registry/http/plugin.js';
import { RegistryCatalog } from './registry/serving-catalog.js';
import { Registry } from './registry/registry.js';
import { featureRoutes } from './features/routes.js';
import { type FeatureSetup, openFeatures } from './features/setup.js';
import { Monitor } from './monitor/monitor.js';
import type { RolloutController } from './rollout/controller.js';
import { setUpRollouts } from './rollout/setup.js';
import { monitorRoutes } from './monitor/routes.js';
import { unavailable } from './protocol/errors.js';
import { versionNotReady } from './protocol/triton-errors.js';
import { Metrics } from './telemetry/metrics.js';
import { ModelMetrics } from './telemetry/model-metrics.js';
import { VERSION } from './version.js';

export type { BackgroundLoop, FrontEnd, FrontEndDeps, Listener };

/**
 * The composition root: scanner, lifecycle, router, pools and dataplane, the capabilities'
 * steps and HTTP plugins, and the listeners.
 */
export class Gateway {
  readonly metrics: Metrics;
  readonly pools: PoolLayout;
  readonly lifecycle: ModelLifecycle;
  readonly router: Router;
  readonly dataplane: DataPlane;
  /** The drift monitor: a version hook, a skew check before compute, an observer after it, and its routes. */
  readonly monitor: Monitor;
  readonly log: Logger;
  /** HTTP surfaces beside OIP's own (registry, features, monitor); add before start(). */
  readonly httpPlugins: HttpPlugin[] = [];
  /** Capabilities preparing state for each version as it loads; add before start(). */
  readonly versionHooks: VersionHook[] = [];
  /** Loops beside serving (batch jobs, stream consumers); started after the listeners, stopped before draining. */
  readonly backgroundLoops: BackgroundLoop[] = [];
  http: FastifyInstance | undefined;
  /** The model registry (absent with --registry-url none). */
  registry: Registry | undefined;
  /** Canary rollouts (with the registry); set by start(). */
  rollouts: RolloutController | undefined;
  /** The online feature store (when defined) and its lookup step; set by start(). */
  features: FeatureSetup | undefined;
  readonly listeners: Listener[] = [];

  constructor(
    readonly config: ServerConfig,
    opts: { logger?: Logger; processMetrics?: boolean } = {},
  ) {
    this.log = opts.logger ?? pino({ level: config.logLevel });
    this.metrics = new Metrics({ processMetrics: opts.processMetrics });
    this.pools = new PoolLayout(config.poolSize, config.workerMemoryLimitMb);
    this.monitor = new Monitor({ registry: this.metrics.registry, log: (msg) => this.log.warn(msg) });
    this.versionHooks.push(this.monitor.hook);
    this.lifecycle = new ModelLifecycle({
      scanner: new RepositoryScanner(config.modelRepository),
      mode: config.modelControlMode,
      startupModels: config.loadModels,
      pollIntervalMs: config.repositoryPollSecs * 1000,
      defaultProviders: config.executionProviders,
      intraOpThreads: config.intraOpThreads,
      pools: this.pools,
      observers: [new ModelMetrics(this.metrics)],
      hooks: this.versionHooks,
      log: this.log,
    });
    this.lifecycle.on((e) => {
      if (e.type === 'ready') this.metrics.loadDuration.observe({ model: e.model, version: e.version }, e.seconds);
      if (e.type === 'failed') this.metrics.loadFailures.inc({ model: e.model, version: e.version });
    });
    this.router = new Router(this.lifecycle);
    this.dataplane = new DataPlane({ lifecycle: this.lifecycle, router: this.router, version: VERSION, serverName: config.serverName });
    this.dataplane.addEnrichStep(this.monitor.skewCheck);
    this.dataplane.addObserveStep(this.monitor.observer);
    this.httpPlugins.push({
      routes: (app) => monitorRoutes(app, {
        monitor: this.monitor,
        resolveVersion: (name, version) => {
          const mv = this.router.resolve(name, version);
          if (mv.state !== 'READY' && mv.state !== 'UNLOADING') throw unavailable(versionNotReady(name, mv.version));
          return mv;
        },
      }),
    });
    this.metrics.setSources({
      models: () =>
        this.lifecycle.versions().map((v) => ({
          model: v.name, version: v.version, state: v.state, provider: v.provider, ...v.depth,
        })),
      pools: () => this.pools.all().map((p) => ({ pool: p.name, size: p.size, active: p.active })),
    });
  }

  /** What front ends are given. */
  get frontEndDeps(): FrontEndDeps {
    return { config: this.config, dataplane: this.dataplane, metrics: this.metrics, log: this.log };
  }

  /**
   * Opens the capabilities (registry, features) and loads the models, with no listener and no
   * background loop: what start() begins with, and all an in-process batch job needs.
   */
  async prepare(): Promise<void> {
    if (this.config.registryUrl !== 'none') {
      const { registryUrl: url, artifactRoot, registryPollSecs } = this.config;
      this.registry = await Registry.open({ url, artifactRoot, pollMs: registryPollSecs * 1000, log: (msg) => this.log.info(msg) });
      const registry = this.registry;
      this.httpPlugins.push({ routes: (app) => registryRoutes(app, { registry }) });
      const log = { info: (m: string) => this.log.info(m), warn: (m: string) => this.log.warn(m) };
      const r = setUpRollouts({ registry, lifecycle: this.lifecycle, router: this.router, dataplane: this.dataplane, metrics: this.metrics.registry, log, monitor: this.monitor, tickMs: this.config.rolloutTickMs });
      this.rollouts = r.controller;
      this.httpPlugins.push(r.plugin);
    }
    // Features: the lookup builds inputs before anything else looks at them (the skew check, the batcher).
    this.features = await openFeatures(this.config, this.metrics.registry, this.log);
    this.dataplane.addEnrichStep(this.features.step, true);
    this.versionHooks.push(this.features.step);
    const featureStore = this.features.store;
    if (featureStore) this.httpPlugins.push({ routes: (app) => featureRoutes(app, { features: featureStore, pushBodyLimit: this.config.httpBodyLimit }) });
    await this.lifecycle.start();
    if (this.registry) {
      // The registry's models serve by their aliases (hot swaps); a repository folder of the same name yields to them.
      const catalog = new RegistryCatalog(this.registry.serving, this.registry.store, (msg) => this.log.warn(msg));
      await new CatalogSync(this.lifecycle).add(catalog);
    }
    this.dataplane.markStarted();
  }

  /** Loads models, then opens HTTP, metrics and any extra front ends (gRPC), then the background loops. */
  async start(frontEnds: FrontEnd[] = []): Promise<void> {
    await this.prepare();
    const deps = this.frontEndDeps;
    this.http = buildHttpServer([...oipRoutes(deps), ...this.httpPlugins], {
      bodyLimit: this.config.httpBodyLimit, logger: this.log,
      connections: httpConnectionSettings(this.config), draining: () => this.dataplane.draining,
    });
    await this.http.listen({ host: this.config.host, port: this.config.httpPort });
    const port = (this.http.server.address() as AddressInfo).port;
    this.listeners.push({
      name: 'HTTP', url: `http://${displayHost(this.config.host)}:${port}`,
      close: () => this.http!.close(), drain: () => this.http!.connections.drain(),
    });
    for (const fe of frontEnds) {
      const l = await fe(deps);
      if (l) this.listeners.push(l);
    }
    if (this.config.metricsPort >= 0) await this.startMetrics();
    await this.rollouts?.start();
    for (const l of this.backgroundLoops) await l.start();
  }

  /** Stops the background loops (their in-flight work finishes); each at most once. */
  private stopLoops(): Promise<void> {
    this.loopsStopped ??= Promise.all([...this.backgroundLoops].reverse().map((l) => l.stop().catch((err: Error) => this.log.error({ err }, `stopping ${l.name} failed`)))).then(() => {});
    return this.loopsStopped;
  }

  private loopsStopped: Promise<void> | undefined;

  private async startMetrics(): Promise<void> {
    const server = createServer(nodeServerOptions(httpConnectionSettings(this.config)), (req, res) => {
      if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
        this.metrics.scrape(req.headers.accept).then(
          ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
          (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message),
        );
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'metrics are served at GET /metrics' }));
    });
    gateServer(server, { max: this.config.metricsMaxConnections, refusal: tooManyConnections('metrics', this.config.metricsMaxConnections, '--metrics-max-connections') });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.metricsPort, this.config.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    this.listeners.push({
      name: 'Metrics',
      url: `http://${displayHost(this.config.host)}:${port}/metrics`,
      close: () => new Promise((r) => server.close(() => r())),
    });
  }

  /** The port a listener got (useful with port 0). */
  port(name: string): number {
    const l = this.listeners.find((x) => x.name === name);
    if (!l) throw new Error(`no ${name} listener`);
    return Number(new URL(l.url).port);
  }

  /**
   * Graceful stop: readiness turns false and new requests get 503, queued and running
   * requests finish (up to the drain timeout), then listeners and workers close.
   */
  async drainAndStop(): Promise<{ drained: boolean }> {
    const timeout = new Promise<false>((r) => setTimeout(() => r(false), this.config.drainTimeoutSecs * 1000).unref());
    const draining = this.stopLoops().then(() => this.dataplane.drain()).then(() => true as const);
    for (const l of this.listeners) l.drain?.();
    const drained = await Promise.race([draining, timeout]);
    await this.stop();
    return { drained };
  }

  /** Closes everything at once. */
  async stop(): Promise<void> {
    await this.stopLoops();
    await this.lifecycle.stop();
    this.monitor.close();
    for (const l of [...this.listeners].reverse()) await l.close().catch(() => {});
    this.listeners.length = 0;
    await this.rollouts?.stop();
    this.rollouts = undefined;
    await this.registry?.close();
    this.registry = undefined;
    await this.pools.close();
    await this.features?.store?.close();
  }
}

function displayHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}
