import { readFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { type ServiceClientConstructor, loadPackageDefinition } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { LOADER_OPTIONS } from '../../src/api/grpc/proto.js';
import { type RunningCli, cliBuilt } from '../helpers/cli.js';
import { servedWithGrpc } from '../helpers/served-cli.js';
import { getJson } from '../helpers/gateway.js';
import { type GrpcClients, call, typedRequest } from '../helpers/grpc-client.js';
import { waitFor } from '../helpers/raw-http.js';

/**
 * Issue 10, points 6 and 8 over gRPC, against the built CLI: a huge client string is not
 * echoed into the status (which travels in a header and would break the client's channel),
 * and a ModelStreamInfer client that never reads holds a bounded number of answers.
 */

const MAX_PENDING = 16;

const simple = (rows = 1, id?: string) => typedRequest('simple', [
  { name: 'INPUT0', datatype: 'INT32', shape: [rows, 16], data: Array(rows * 16).fill(2) },
  { name: 'INPUT1', datatype: 'INT32', shape: [rows, 16], data: Array(rows * 16).fill(1) },
], id === undefined ? {} : { id });

const streamMethod = (() => {
  const def = loadPackageDefinition(protoLoader.loadSync('grpc_predict_v2.proto', LOADER_OPTIONS));
  const svc = (def.inference as Record<string, unknown>).GRPCInferenceService as ServiceClientConstructor;
  return svc.service.ModelStreamInfer;
})();

/** A gRPC length-prefixed message frame. */
function frame(msg: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** Resident set size of a process in bytes (Linux). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

async function successCount(url: string): Promise<number> {
  const { body } = await getJson(`${url}/v2/models/simple/stats`);
  return body.model_stats[0].inference_stats.success.count;
}

describe.skipIf(!cliBuilt)('gRPC under hostile clients against the built CLI (skipped only when dist/ is not built; npm test builds it)', () => {
  let cli: RunningCli;
  let grpc: GrpcClients;
  servedWithGrpc(['--grpc-stream-max-pending', String(MAX_PENDING), '--pool-size', '1'], (c, g) => ((cli = c), (grpc = g)));

  it('a 100,000-character datatype gets a short INVALID_ARGUMENT, and the next 200 calls on the same channel succeed', async () => {
    const huge = 'X'.repeat(100_000);
    const bad = simple();
    bad.inputs[0].datatype = huge;
    const err = await call(grpc.inference, 'ModelInfer', bad).then(() => undefined, (e: { code: number; details: string }) => e);
    expect(err?.code).toBe(3);
    expect(err!.details.length).toBeLessThanOrEqual(1000);
    expect(err!.details).toMatch(/^input 'INPUT0': unknown datatype "X{200}\.\.\. \(99800 more characters\)"$/);
    for (const over of [{ model_name: huge }, { outputs: [{ name: huge }] }, { inputs: [{ ...simple().inputs[0], name: huge }] }]) {
      const e = await call(grpc.inference, 'ModelInfer', { ...simple(), ...over }).then(() => undefined, (x: { code: number; details: string }) => x);
      expect(e?.code).toBe(3);
      expect(e!.details.length).toBeLessThanOrEqual(1000);
    }
    let ok = 0;
    for (let i = 0; i < 200; i++) {
      const res = await call<{ model_name: string }>(grpc.inference, 'ModelInfer', simple());
      if (res.model_name === 'simple') ok++;
    }
    expect(ok).toBe(200);
  });

  it('a ModelStreamInfer client that never reads holds a bounded number of answers; other clients are served; reading again gets every answer', async () => {
    const TOTAL = 10_000;
    const before = await successCount(cli.url);
    const rssBefore = rssOf(cli.child.pid!);
    // A plain HTTP/2 client that offers a 1 KiB window and does not read: real flow control, as a
    // stalled grpc-core client would do (grpc-js clients read bidi streams into memory regardless).
    const session = connect(`http://127.0.0.1:${cli.grpcPort}`, { settings: { initialWindowSize: 1024 } });
    const stream = session.request({ ':method': 'POST', ':path': '/inference.GRPCInferenceService/ModelStreamInfer', 'content-type': 'application/grpc', te: 'trailers' });
    stream.pause();
    for (let i = 0; i < TOTAL; i++) stream.write(frame(streamMethod.requestSerialize(simple(16, `r${i}`))));

    // Wait until the server has stopped computing for this stream.
    let last = -1;
    let same = 0;
    while (same < 5) {
      await new Promise((r) => setTimeout(r, 200));
      const n = await successCount(cli.url);
      same = n === last ? same + 1 : 0;
      last = n;
    }
    const computed = last - before;
    // At the bound: MAX_PENDING in flight or unsent, grpc-js's read buffer (16 messages) and what fits the 1 KiB window.
    expect(computed).toBeGreaterThan(0);
    expect(computed).toBeLessThanOrEqual(MAX_PENDING + 16 + 16);
    expect(rssOf(cli.child.pid!) - rssBefore).toBeLessThan(64 * 1024 * 1024);

    // Everyone else is served meanwhile, over gRPC and HTTP.
    for (let i = 0; i < 50; i++) expect((await call<{ model_name: string }>(grpc.inference, 'ModelInfer', simple())).model_name).toBe('simple');
    expect((await getJson(`${cli.url}/v2/health/ready`)).status).toBe(200);

    // The client reads again: every request is answered, once, by id.
    const ids = new Set<string>();
    let pending = Buffer.alloc(0);
    stream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
        const len = pending.readUInt32BE(1);
        const msg = streamMethod.responseDeserialize(pending.subarray(5, 5 + len)) as { error_message: string; infer_response: { id: string } };
        expect(msg.error_message).toBe('');
        ids.add(msg.infer_response.id);
        pending = pending.subarray(5 + len);
      }
    });
    stream.resume();
    await waitFor(() => ids.size === TOTAL, `all ${TOTAL} answers`, 120_000);
    stream.end();
    await new Promise<void>((r) => stream.on('close', () => r()));
    session.close();
    expect(ids.size).toBe(TOTAL);
  });
});
