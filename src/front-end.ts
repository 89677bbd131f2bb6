import type { Logger } from 'pino';
import type { ServerConfig } from './config/server-config.js';
import type { DataPlane } from './core/dataplane.js';
import type { Metrics } from './telemetry/metrics.js';

/** Something that serves the dataplane on a port (HTTP, gRPC, metrics). */
export interface Listener {
  name: string;
  url: string;
  close(): Promise<void>;
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
