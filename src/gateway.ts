import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { gateServer } from './api/connection-gate.js';
import { httpConnectionSettings, nodeServerOptions, tooManyConnections } from './api/http/connections.js';
import { buildHttpServer } from './api/http/server.js';
import type { ServerConfig } from './config/server-config.js';
import { DataPlane } from './core/dataplane.js';
import { PoolLayout } from './core/pools.js';
import { ModelRepository } from './core/repository.js';
import { Metrics } from './telemetry/metrics.js';
import { VERSION } from './version.js';

/** Something that serves the dataplane on a port (HTTP, gRPC, metrics). */
export interface Listener {
  name: string;
  url: string;
  close(): Promise<void>;
  /** Called when a drain starts: tell clients to go (HTTP: close idle connections; gRPC: GOAWAY). */
  drain?(): void;
}

/** A protocol front end started beside HTTP (the gRPC layer registers itself this way). */
export type FrontEnd = (gw: Gateway) => Promise<Listener | undefined>;

/** The whole server: repository, pools, dataplane and its listeners. */
export class Gateway {
  readonly metrics: Metrics;
  readonly pools: PoolLayout;
  readonly repository: ModelRepository;
  readonly dataplane: DataPlane;
  readonly log: Logger;
  http: FastifyInstance | undefined;
  private metricsServer: Server | undefined;
  readonly listeners: Listener[] = [];

  constructor(
    readonly config: ServerConfig,
    opts: { logger?: Logger; processMetrics?: boolean } = {},
  ) {
    this.log = opts.logger ?? pino({ level: config.logLevel });
    this.metrics = new Metrics({ processMetrics: opts.processMetrics });
    this.pools = new PoolLayout(config.poolSize, config.workerMemoryLimitMb);
    this.repository = new ModelRepository({
      root: config.modelRepository,
      mode: config.modelControlMode,
      startupModels: config.loadModels,
      pollIntervalMs: config.repositoryPollSecs * 1000,
      defaultProviders: config.executionProviders,
      intraOpThreads: config.intraOpThreads,
      pools: this.pools,
      metrics: this.metrics,
      log: (msg, level = 'info') => this.log[level](msg),
    });
    this.dataplane = new DataPlane(this.repository, VERSION);
    this.metrics.setSources({
      models: () =>
        this.repository.versions().map((v) => ({
          model: v.name, version: v.version, state: v.state, provider: v.provider, ...v.depth,
        })),
      pools: () => this.pools.all().map((p) => ({ pool: p.name, size: p.size, active: p.active })),
    });
  }

  /** Loads models, then opens HTTP, metrics and any extra front ends (gRPC). */
  async start(frontEnds: FrontEnd[] = []): Promise<void> {
    await this.repository.start();
    this.dataplane.markStarted();
    this.http = buildHttpServer(this.dataplane, {
      bodyLimit: this.config.httpBodyLimit, logger: this.log, metrics: this.metrics,
      connections: httpConnectionSettings(this.config), limits: { maxElements: this.config.maxRequestElements },
    });
    await this.http.listen({ host: this.config.host, port: this.config.httpPort });
    const port = (this.http.server.address() as AddressInfo).port;
    this.listeners.push({
      name: 'HTTP', url: `http://${displayHost(this.config.host)}:${port}`,
      close: () => this.http!.close(), drain: () => this.http!.connections.drain(),
    });
    for (const fe of frontEnds) {
      const l = await fe(this);
      if (l) this.listeners.push(l);
    }
    if (this.config.metricsPort >= 0) await this.startMetrics();
  }

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
    this.metricsServer = server;
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
    const draining = this.dataplane.drain().then(() => true as const);
    for (const l of this.listeners) l.drain?.();
    const drained = await Promise.race([draining, timeout]);
    await this.stop();
    return { drained };
  }

  /** Closes everything at once. */
  async stop(): Promise<void> {
    await this.repository.stop();
    for (const l of [...this.listeners].reverse()) await l.close().catch(() => {});
    this.listeners.length = 0;
    await this.pools.close();
  }
}

function displayHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}
