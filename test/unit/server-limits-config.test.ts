import { describe, expect, it } from 'vitest';
import { loadServerConfig } from '../../src/config/server-config.js';

describe('connection and request limits in the server config', () => {
  it('have documented defaults', () => {
    const c = loadServerConfig({}, {});
    expect({
      header: c.httpHeaderTimeoutSecs, request: c.httpRequestTimeoutSecs, keepAlive: c.httpKeepAliveTimeoutSecs,
      http: c.httpMaxConnections, metrics: c.metricsMaxConnections, grpc: c.grpcMaxConnections, streams: c.grpcMaxConcurrentStreams,
      idle: c.grpcMaxConnectionIdleSecs, age: c.grpcMaxConnectionAgeSecs, grace: c.grpcMaxConnectionAgeGraceSecs,
      pending: c.grpcStreamMaxPending, elements: c.maxRequestElements,
    }).toEqual({
      header: 10, request: 60, keepAlive: 72, http: 1024, metrics: 64, grpc: 1024, streams: 1024,
      idle: 300, age: 0, grace: 0, pending: 128, elements: 16777216,
    });
  });

  it('come from flags and the environment, with minimums named', () => {
    const c = loadServerConfig({ 'http-max-connections': '0', 'max-request-elements': '500' }, { INFERGATE_HTTP_REQUEST_TIMEOUT_SECS: '5', INFERGATE_HTTP_HEADER_TIMEOUT_SECS: '2' });
    expect([c.httpMaxConnections, c.maxRequestElements, c.httpRequestTimeoutSecs, c.httpHeaderTimeoutSecs]).toEqual([0, 500, 5, 2]);
    expect(() => loadServerConfig({ 'http-keep-alive-timeout-secs': '0' }, {})).toThrow(/--http-keep-alive-timeout-secs: must be an integer >= 1/);
    expect(() => loadServerConfig({ 'grpc-stream-max-pending': '0' }, {})).toThrow(/--grpc-stream-max-pending: must be an integer >= 1/);
    expect(() => loadServerConfig({ 'http-header-timeout-secs': '30', 'http-request-timeout-secs': '10' }, {})).toThrow(/--http-header-timeout-secs \(30\) must not be longer than --http-request-timeout-secs \(10\)/);
  });
});

describe('the open-files check at startup', () => {
  it('warns when the caps together pass the descriptor limit, or a cap is off', async () => {
    const { fdLimitWarning } = await import('../../src/cli/fd-limit.js');
    const c = loadServerConfig({}, {});
    expect(fdLimitWarning(c, 20000)).toBeUndefined();
    expect(fdLimitWarning(c, 1024)).toMatch(/= 2112\) plus 256 for the server itself exceed the open-files limit of 1024/);
    expect(fdLimitWarning(loadServerConfig({ 'http-max-connections': '0' }, {}), 20000)).toMatch(/no connection cap/);
    const { openFilesLimit } = await import('../../src/cli/fd-limit.js');
    expect(openFilesLimit('/nonexistent/limits')).toBeUndefined();
    expect(fdLimitWarning(c, Infinity)).toBeUndefined();
  });
});
