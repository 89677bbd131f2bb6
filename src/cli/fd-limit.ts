import { readFileSync } from 'node:fs';
import type { ServerConfig } from '../config/server-config.js';

/** Descriptors kept for everything but client connections: model files, workers, pipes, logs. */
const RESERVED_FDS = 256;

/** The process's soft limit on open files (Linux /proc/self/limits), or undefined where unknown. */
export function openFilesLimit(limits = '/proc/self/limits'): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(limits, 'utf8'));
    if (!m) return undefined;
    return m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return undefined;
  }
}

/**
 * A warning when the listeners' connection caps together exceed what the descriptor limit
 * allows: past it a flood of connections stops every listener, which is what the caps are for.
 */
export function fdLimitWarning(c: ServerConfig, limit = openFilesLimit()): string | undefined {
  if (limit === undefined || !Number.isFinite(limit)) return undefined;
  const caps = [c.httpMaxConnections, c.grpcPort >= 0 ? c.grpcMaxConnections : 0, c.metricsPort >= 0 ? c.metricsMaxConnections : 0];
  if (caps.some((x) => x === 0)) return `a listener has no connection cap (0); with the open-files limit of ${limit}, a flood of connections can stop every listener`;
  const total = caps.reduce((a, b) => a + b, 0);
  if (total + RESERVED_FDS <= limit) return undefined;
  return `the connection caps (--http-max-connections + --grpc-max-connections + --metrics-max-connections = ${total}) plus ${RESERVED_FDS} for the server itself exceed the open-files limit of ${limit} (ulimit -n); lower the caps or raise the limit`;
}
