import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, cliBuilt, startCli } from '../helpers/cli.js';
import { MODELS } from '../helpers/gateway.js';
import { type GrpcClients, call, grpcClients, typedRequest } from '../helpers/grpc-client.js';
import { type RawConnection, getText, rawConnect, rawRequest, statuses, waitFor } from '../helpers/raw-http.js';

/**
 * Issue 10, point 1: slow clients must not exhaust the server. Against the built CLI with
 * low limits: 250 connections that send headers and one byte of a 300-byte body (and some
 * that send nothing) while the HTTP cap is 50, header timeout 1 s, request timeout 2 s.
 */

const HTTP_CAP = 50;
const GRPC_CAP = 4;
const METRICS_CAP = 4;
const SLOW = 250;

const simple = typedRequest('simple', [
  { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Array(16).fill(2) },
  { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array(16).fill(1) },
]);

/** A gRPC client with a connection of its own (grpc-js shares connections between clients by default). */
const ownConnection = (port: number): GrpcClients => grpcClients(port, { 'grpc.use_local_subchannel_pool': 1 });

describe.skipIf(!cliBuilt)('slow clients and connection caps against the built CLI (skipped only when dist/ is not built; npm test builds it)', () => {
  let cli: RunningCli;
  let httpPort: number;

  beforeAll(async () => {
    cli = await startCli(MODELS, [
      '--grpc-port', '0', '--metrics-port', '0', '--pool-size', '1',
      '--http-max-connections', String(HTTP_CAP), '--grpc-max-connections', String(GRPC_CAP), '--metrics-max-connections', String(METRICS_CAP),
      '--http-header-timeout-secs', '1', '--http-request-timeout-secs', '2',
    ]);
    httpPort = Number(new URL(cli.url).port);
  });
  afterAll(async () => {
    cli?.child.kill('SIGTERM');
    await cli?.exited;
  });

  it(`${SLOW} slow bodies: those within the cap get 408, the rest 503, none reset; an open connection, gRPC and /metrics keep answering`, async () => {
    const existing = await rawConnect(httpPort);
    await rawRequest(existing, getText('/v2/health/live'), 1);
    expect(statuses(existing.received())).toEqual([200]);

    const slow: RawConnection[] = [];
    for (let i = 0; i < SLOW; i++) {
      const c = await rawConnect(httpPort);
      // Every fifth sends nothing at all; the others headers and one byte of the promised body.
      if (i % 5 !== 0) c.socket.write('POST /v2/models/simple/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n{');
      slow.push(c);
    }

    // The connection that was open before the flood is still served, and so are the other listeners.
    await rawRequest(existing, getText('/v2/health/ready'), 2);
    expect(statuses(existing.received())).toEqual([200, 200]);
    const grpc = ownConnection(cli.grpcPort!);
    const infer = await call<{ model_name: string }>(grpc.inference, 'ModelInfer', simple);
    expect(infer.model_name).toBe('simple');
    grpc.close();
    const scrape = await rawConnect(Number(new URL(cli.metricsUrl!).port));
    await rawRequest(scrape, getText('/metrics'), 1);
    expect(statuses(scrape.received())).toEqual([200]);
    scrape.socket.destroy();

    const ends = await Promise.all(slow.map((c) => c.closed));
    const got = slow.map((c) => statuses(c.received()));
    expect(ends.filter((e) => e.reset), 'connections reset instead of answered').toEqual([]);
    expect(got.filter((s) => s.length !== 1), 'each slow connection gets exactly one answer').toEqual([]);
    const refused = got.filter((s) => s[0] === 503).length;
    const timedOut = got.filter((s) => s[0] === 408).length;
    expect(refused + timedOut).toBe(SLOW);
    // The open connection holds one slot of the cap; everything past the cap is refused.
    expect(refused).toBeGreaterThanOrEqual(SLOW - (HTTP_CAP - 1));
    expect(timedOut).toBeGreaterThan(0);
    const answer408 = slow.find((c) => statuses(c.received())[0] === 408)!.received();
    expect(JSON.parse(answer408.slice(answer408.indexOf('\r\n\r\n') + 4)).error).toMatch(/did not arrive in time.*--http-request-timeout-secs/);
    const answer503 = slow.find((c) => statuses(c.received())[0] === 503)!.received();
    expect(answer503).toMatch(/\r\nConnection: close\r\n/i);
    expect(JSON.parse(answer503.slice(answer503.indexOf('\r\n\r\n') + 4))).toEqual({
      error: `the HTTP listener has ${HTTP_CAP} connections open, its limit (--http-max-connections); retry later`,
    });

    // Once the slow ones are gone the cap has room again.
    expect((await fetch(`${cli.url}/v2/health/ready`)).status).toBe(200);
    await rawRequest(existing, getText('/v2/health/live'), 3);
    expect(statuses(existing.received())).toEqual([200, 200, 200]);
    existing.socket.destroy();
  });

  it('gRPC past its cap: new connections fail UNAVAILABLE at once, the open ones keep being served', async () => {
    const open = Array.from({ length: GRPC_CAP }, () => ownConnection(cli.grpcPort!));
    for (const c of open) expect((await call<{ model_name: string }>(c.inference, 'ModelInfer', simple)).model_name).toBe('simple');
    const extra = ownConnection(cli.grpcPort!);
    await expect(call(extra.inference, 'ModelInfer', simple)).rejects.toMatchObject({ code: 14 });
    // The open ones are unaffected.
    for (const c of open) expect((await call<{ model_name: string }>(c.inference, 'ModelInfer', simple)).model_name).toBe('simple');
    // Freeing a slot lets the refused client in on its next attempt (grpc-js retries with backoff).
    open.pop()!.close();
    await waitFor(async () => call(extra.inference, 'ModelInfer', simple).then(() => true, () => false), 'a gRPC slot to free up');
    extra.close();
    open.forEach((c) => c.close());
  });

  it('/metrics past its cap answers 503 in the error shape and closes without a reset; open connections keep scraping', async () => {
    const port = Number(new URL(cli.metricsUrl!).port);
    const open: RawConnection[] = [];
    while (open.length < METRICS_CAP) {
      const c = await rawConnect(port);
      await rawRequest(c, getText('/metrics'), 1);
      // A slot may still be held by the earlier test's connection until the server sees it close.
      if (statuses(c.received())[0] === 200) open.push(c);
      else await c.closed;
    }
    const past = await rawConnect(port);
    past.socket.write(getText('/metrics'));
    const end = await past.closed;
    expect(end.reset).toBe(false);
    expect(statuses(past.received())).toEqual([503]);
    expect(past.received()).toContain('{"error":"the metrics listener has 4 connections open, its limit (--metrics-max-connections); retry later"}');
    for (const c of open) {
      await rawRequest(c, getText('/metrics'), 2);
      expect(statuses(c.received())).toEqual([200, 200]);
      c.socket.destroy();
    }
  });
});

describe.skipIf(!cliBuilt)('gRPC connections that never send a call (built CLI)', () => {
  let cli: RunningCli;
  beforeAll(async () => {
    cli = await startCli(MODELS, ['--grpc-port', '0', '--pool-size', '1', '--model-control-mode', 'explicit', '--load-model', 'simple', '--grpc-max-connections', String(GRPC_CAP), '--grpc-max-connection-idle-secs', '1']);
  });
  afterAll(async () => {
    cli?.child.kill('SIGTERM');
    await cli?.exited;
  });

  it('are closed after the idle timeout, even before the HTTP/2 preface, so they cannot hold the cap', async () => {
    // Silent TCP connections: no preface, no SETTINGS, nothing; they fill the cap.
    const silent = await Promise.all(Array.from({ length: GRPC_CAP }, () => rawConnect(cli.grpcPort!)));
    const waiting = ownConnection(cli.grpcPort!);
    const ends = await Promise.all(silent.map((c) => c.closed));
    expect(ends.every((e) => !e.reset)).toBe(true);
    await waitFor(async () => call(waiting.inference, 'ModelInfer', simple).then(() => true, () => false), 'the cap to free up once the silent connections were closed');
    expect((await call<{ model_name: string }>(waiting.inference, 'ModelInfer', simple)).model_name).toBe('simple');
    waiting.close();
  });
});
