import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliBuilt, startCli } from '../helpers/cli.js';
import { postJson, scratchRepository } from '../helpers/gateway.js';
import { call, grpcClients } from '../helpers/grpc-client.js';
import { type RawConnection, getText, postText, rawConnect, rawRequest, statuses, waitFor } from '../helpers/raw-http.js';
import { textRequest } from '../helpers/text-encoder.js';

/**
 * Issue 10, point 7: on SIGTERM the built CLI answers what arrives during the drain with 503
 * and `Connection: close`, closes idle keep-alive connections with a FIN (no resets), sends
 * gRPC clients GOAWAY, and lets in-flight requests finish.
 */

const IN_FLIGHT = 12;

/** Body of the last response in a raw byte string. */
function lastBody(raw: string): string {
  return raw.slice(raw.lastIndexOf('\r\n\r\n') + 4);
}

/** Value of a gauge for one model on the metrics page. */
async function gauge(metricsUrl: string, name: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const m = new RegExp(`^${name}\\{[^}]*model="text_encoder"[^}]*\\} (\\S+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('SIGTERM with keep-alive connections', () => {
  it.skipIf(!cliBuilt)('idle connections end with FIN, requests during the drain get 503 + Connection: close, gRPC is told to go, in-flight requests finish (skipped only when dist/ is not built; npm test builds it)', async () => {
    const dir = scratchRepository(['text_encoder', 'simple']);
    writeFileSync(join(dir, 'text_encoder', 'config.yaml'), 'max_batch_size: 16\ninstance_group: [{count: 1}]\n');
    const cli = await startCli(dir, ['--pool-size', '1', '--grpc-port', '0', '--metrics-port', '0']);
    const port = Number(new URL(cli.url).port);

    const idle: RawConnection[] = [];
    for (let i = 0; i < 10; i++) {
      const c = await rawConnect(port);
      await rawRequest(c, getText('/v2/health/live'), 1);
      idle.push(c);
    }
    const grpc = grpcClients(cli.grpcPort!);
    expect(await call(grpc.inference, 'ServerLive', {})).toEqual({ live: true });

    // Work that keeps the drain going: queued behind one worker, one request per batch.
    const inflight = Array.from({ length: IN_FLIGHT }, (_, i) => postJson(`${cli.url}/v2/models/text_encoder/infer`, textRequest(16, 128 - i)));
    await waitFor(async () => (await gauge(cli.metricsUrl!, 'infergate_pending_requests')) >= IN_FLIGHT - 2, 'the requests to be queued');

    cli.child.kill('SIGTERM');
    await waitFor(() => cli.output().includes('SIGTERM received'), 'the server to start draining');

    // Requests on idle keep-alive connections: answered, then the server closes the connection.
    for (const c of idle.slice(0, 5)) await rawRequest(c, postText('/v2/models/simple/infer', { inputs: [] }), 2);
    const ready = idle[5];
    await rawRequest(ready, getText('/v2/health/ready'), 2);
    // A connection opened during the drain.
    const fresh = await rawConnect(port);
    await rawRequest(fresh, postText('/v2/models/simple/infer', { inputs: [] }), 1);
    // gRPC: the open channel got GOAWAY and the listener takes no new connections.
    await expect(call(grpc.inference, 'ServerLive', {}, 5000)).rejects.toMatchObject({ code: 14 });
    grpc.close();

    for (const c of [...idle.slice(0, 5), fresh]) {
      expect(statuses(c.received()).at(-1)).toBe(503);
      expect(c.received()).toMatch(/\r\nconnection: close\r\n(?:.*\r\n)*\r\n\{"error":"server is shutting down and takes no new requests"\}$/i);
    }
    expect(statuses(ready.received())).toEqual([200, 400]);
    expect(lastBody(ready.received())).toBe('{"ready":false}');
    expect(ready.received()).toMatch(/\r\nconnection: close\r\n/i);

    const results = await Promise.all(inflight);
    results.forEach((r) => expect(r.status, JSON.stringify(r.body)).toBe(200));
    expect(await cli.exited).toBe(0);
    const ends = await Promise.all([...idle, fresh].map((c) => c.closed));
    expect(ends.filter((e) => e.reset), 'connections reset').toEqual([]);
    expect([...idle, fresh].every((c) => c.gotFin())).toBe(true);
    expect(cli.output()).toMatch(/drained, all in-flight requests finished/);
  });
});
