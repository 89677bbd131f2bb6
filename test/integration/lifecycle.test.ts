import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { getJson, postJson, scratchRepository, startGateway } from '../helpers/gateway.js';
import { textRequest } from '../helpers/text-encoder.js';

let gw: Gateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const mlpRow = Array.from({ length: 30 }, (_, i) => i + 1);
const mlpBody = { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: mlpRow }] };

describe('model control', () => {
  it('poll mode loads a new version folder and unloads a removed one after its in-flight requests', async () => {
    const dir = scratchRepository(['text_encoder']);
    writeFileSync(join(dir, 'text_encoder', 'config.yaml'), 'version_policy: {all: {}}\nmax_batch_size: 16\ninstance_group: [{count: 1}]\n');
    const started = await startGateway({ modelRepository: dir, modelControlMode: 'poll', repositoryPollSecs: 0.1 });
    gw = started.gw;
    const url = started.url;
    expect((await getJson(`${url}/v2/models/text_encoder/versions/2/ready`)).status).toBe(404);

    cpSync(join(dir, 'text_encoder', '1'), join(dir, 'text_encoder', '2'), { recursive: true });
    await until('version 2 ready', async () => (await getJson(`${url}/v2/models/text_encoder/versions/2/ready`)).status === 200);
    const v2 = await postJson(`${url}/v2/models/text_encoder/infer`, textRequest(1, 8));
    expect(v2.body.model_version).toBe('2');

    // Keep version 1 busy, then remove its folder: queued and running requests still finish.
    const v1 = gw.router.resolve('text_encoder', '1');
    const busy = [0, 1, 2, 3].map((i) => postJson(`${url}/v2/models/text_encoder/versions/1/infer`, textRequest(16, 128 - i)));
    // Remove the folder once all four have reached the version (queued, running or done; one
    // request per batch here), not after a fixed sleep that a loaded machine can outrun.
    await until('four requests at version 1', () => v1.depth.queued + v1.depth.inFlight + v1.stats.toJSON().inference_stats.success.count >= 4);
    rmSync(join(dir, 'text_encoder', '1'), { recursive: true });
    const results = await Promise.all(busy);
    results.forEach((r) => expect(r.status).toBe(200));
    await until('version 1 unloaded', () => !gw!.lifecycle.versions().includes(v1));
    expect(v1.state).toBe('UNLOADING');
    expect(v1.stats.toJSON().inference_stats.success.count).toBe(4);
    expect((await postJson(`${url}/v2/models/text_encoder/versions/1/infer`, textRequest(1, 8))).status).toBe(404);
    expect((await postJson(`${url}/v2/models/text_encoder/infer`, textRequest(1, 8))).status).toBe(200);
  });

  it('explicit mode: the repository extension indexes, loads and unloads models', async () => {
    const dir = scratchRepository(['simple', 'tabular_mlp']);
    const started = await startGateway({ modelRepository: dir, modelControlMode: 'explicit', loadModels: ['simple'] });
    gw = started.gw;
    const url = started.url;
    const index = await postJson(`${url}/v2/repository/index`, {});
    expect(index.status).toBe(200);
    expect(index.body).toEqual(expect.arrayContaining([
      { name: 'simple', version: '1', state: 'READY', reason: '' },
      { name: 'tabular_mlp', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' },
    ]));
    expect((await postJson(`${url}/v2/repository/index`, { ready: true })).body.map((e: { name: string }) => e.name)).toEqual(['simple']);
    expect((await postJson(`${url}/v2/models/tabular_mlp/infer`, mlpBody)).status).toBe(404);

    expect((await postJson(`${url}/v2/repository/models/tabular_mlp/load`, {})).status).toBe(200);
    const res = await postJson(`${url}/v2/models/tabular_mlp/infer`, mlpBody);
    expect(res.status).toBe(200);
    expect(res.body.model_version).toBe('3');

    expect((await postJson(`${url}/v2/repository/models/tabular_mlp/unload`, {})).status).toBe(200);
    expect((await postJson(`${url}/v2/models/tabular_mlp/infer`, mlpBody)).status).toBe(404);
    const missing = await postJson(`${url}/v2/repository/models/nothere/load`, {});
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe("failed to load 'nothere', failed to poll from model repository: no such model folder");
    expect((await postJson(`${url}/v2/repository/models/..%2F..%2Fetc/load`, {})).status).toBe(400);
  });

  it('a broken model is UNAVAILABLE with its reason and never stops the others', async () => {
    const dir = scratchRepository(['simple', 'digits_cnn']);
    writeFileSync(join(dir, 'digits_cnn', '1', 'model.onnx'), 'not an onnx file');
    cpSync(join(dir, 'simple'), join(dir, 'badconfig'), { recursive: true });
    writeFileSync(join(dir, 'badconfig', 'config.yaml'), 'max_batch_size: 8\ndynamic_batching:\n  max_queue_dely_microseconds: 5\n');
    const started = await startGateway({ modelRepository: dir });
    gw = started.gw;
    const index = (await postJson(`${started.url}/v2/repository/index`, {})).body;
    const digits = index.find((e: { name: string }) => e.name === 'digits_cnn');
    expect(digits.state).toBe('UNAVAILABLE');
    expect(digits.reason).toMatch(/protobuf|parse|load|invalid/i);
    const bad = index.find((e: { name: string }) => e.name === 'badconfig');
    expect(bad.state).toBe('UNAVAILABLE');
    expect(bad.reason).toMatch(/unknown key 'max_queue_dely_microseconds'/);
    expect((await getJson(`${started.url}/v2/health/ready`)).body).toEqual({ ready: false });
    const ok = await postJson(`${started.url}/v2/models/simple/infer`, {
      inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: Array(16).fill(2) })),
    });
    expect(ok.status).toBe(200);
    const down = await postJson(`${started.url}/v2/models/digits_cnn/infer`, { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: Array(64).fill(0) }] });
    expect(down.status).toBe(503);
    expect(down.body.error).toMatch(/^Request for unknown model: 'digits_cnn' has no available versions \(version 1 UNAVAILABLE: /);
  });
});

describe('worker failure', () => {
  // A worker thread cannot be killed safely while onnxruntime runs native code in it (the
  // binding aborts the process), so the crash here is one a worker can really have and
  // survive in-process: running out of its JS heap while holding a batch.
  it('a worker that dies holding a batch fails it promptly with a clear error and is replaced', async () => {
    const dir = scratchRepository(['churn_pipeline', 'tabular_mlp']);
    const started = await startGateway({ modelRepository: dir, poolSize: 1, workerMemoryLimitMb: 16 });
    gw = started.gw;
    const url = started.url;
    // The replacement opens its sessions from the bytes read at load, not from the file, which
    // may have been rewritten since (here: corrupted, with no reload asked for).
    writeFileSync(join(dir, 'tabular_mlp', '1', 'model.onnx'), 'this is not an onnx model');
    const before = gw.pools.cpu.threads[0];
    const rows = 48;
    const huge = await postJson(`${url}/v2/models/churn_pipeline/infer`, {
      inputs: [
        { name: 'plan', datatype: 'BYTES', shape: [rows, 1], data: Array.from({ length: rows }, (_, i) => `${i}`.padEnd(1 << 20, 'x')) },
        { name: 'usage', datatype: 'FP32', shape: [rows, 3], data: Array(rows * 3).fill(1) },
      ],
    });
    expect(huge.status).toBe(500);
    expect(huge.body.error).toMatch(/worker running this batch ran out of memory.*replaced/);
    await until('a replacement worker', () => gw!.pools.cpu.threads.length === 1 && gw!.pools.cpu.threads[0] !== before);
    const again = await postJson(`${url}/v2/models/tabular_mlp/versions/1/infer`, mlpBody);
    expect(again.status).toBe(200);
    const churn = await postJson(`${url}/v2/models/churn_pipeline/infer`, {
      inputs: [
        { name: 'plan', datatype: 'BYTES', shape: [1, 1], data: ['pro'] },
        { name: 'usage', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
      ],
    });
    expect(churn.status).toBe(200);
  });
});
