import type { Logger } from 'pino';
import type { ServerConfig } from './config/server-config.js';
import type { DataPlane } from './core/dataplane.js';
import type { Metrics } from './telemetry/metrics.js';

/** Something that serves the dataplane on a port (HTTP, gRPC, metrics). */
export interface Listener {
  name: string;
  url: string;
  close(): Promise<void>;
  /** Called when a drain starts: tell clients to go (HTTP: close idle connections; gRPC: GOAWAY). */
  drain?(): void;
}

/** What a protocol front end gets: the dataplane and the server's telemetry, not the gateway. */
export interface FrontEndDeps {
  config: ServerConfig;
  dataplane: DataPlane;
  metrics: Metrics;
  log: Logger;
}

/** A protocol front end started beside HTTP (the gRPC layer registers itself this way). */
export type FrontEnd = (deps: FrontEndDeps) => Promise<Listener | undefined>;

/**
 * A loop beside serving (batch jobs, stream consumers) that the composition root starts once
 * models are loaded and stops before draining, so its in-flight work finishes first.
 */
export interface BackgroundLoop {
  readonly name: string;
  start(): Promise<void>;
  /** Stops taking new work and resolves when the work in flight is done (and checkpointed). */
  stop(): Promise<void>;
}
