import type { InferRequest, ModelMetadata } from '../protocol/types.js';
import type { StatsSnapshot } from './server-stats.js';

/** What the load loops need from a protocol: prebuilt payloads sent by index, plus control calls. */
export interface Transport {
  /** The model's metadata; throws an Error that says what to do when it cannot be had. */
  metadata(): Promise<ModelMetadata>;
  /** Encodes the requests into wire payloads once, so the hot loop only sends bytes. */
  prepare(requests: InferRequest[]): void;
  /** Sends prepared payload i; rejects with the server's error message on failure. */
  infer(i: number): Promise<void>;
  /** Cumulative server statistics, or a string saying why there are none. */
  statistics(): Promise<StatsSnapshot | string>;
  close(): void;
}

/** Splits "host:port" or "http://host:port[/]" into host and port. */
export function parseHostPort(url: string, defaultPort: number): { host: string; port: number } {
  const bare = url.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(bare);
  if (!m || m[1] === '') throw new Error(`--url '${url}' must be HOST:PORT (e.g. 127.0.0.1:8000)`);
  return { host: m[1], port: m[2] ? Number(m[2]) : defaultPort };
}

/** Turns a connection failure into a message that says what to check. */
export function reachError(url: string, err: Error & { code?: string }): Error {
  if (err.code === 'ECONNREFUSED') return new Error(`cannot connect to ${url}: connection refused; is the server running there (--url)?`);
  if (err.code === 'ENOTFOUND') return new Error(`cannot resolve the host of ${url} (--url)`);
  return err;
}
