import { appendFileSync, chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, cliBuilt, listenerUrl, startCli, waitForOutput } from '../helpers/cli.js';
import { getJson, postJson, scratchRepository } from '../helpers/gateway.js';
import { goldenFiles } from '../helpers/golden.js';
import { textRequest } from '../helpers/text-encoder.js';

// As root, permissions stop nothing: the server then runs as `nobody`, so an unreadable folder is really unreadable.
const asRoot = process.getuid?.() === 0;
const as = asRoot ? { uid: 65534, gid: 65534 } : {};

let dir: string;
let cli: RunningCli;
const tab1 = goldenFiles().find((g) => g.model === 'tabular_mlp' && g.version === '1')!;

beforeAll(async () => {
  dir = scratchRepository(['text_encoder', 'tabular_mlp']);
  chmodSync(dir, 0o755);
  cli = await startCli(dir, ['--model-control-mode', 'poll', '--repository-poll-secs', '1', '--metrics-port', '0', '--log-level', 'info', '--pool-size', '2'], process.env, as);
});
afterAll(() => {
  cli?.child.kill('SIGKILL');
});

/** Clients sending requests in a loop until stopped; counts answers by status. */
function load(clients: number, send: () => Promise<{ status: number; body: unknown }>) {
  let running = true;
  const statuses = new Map<number, number>();
  const failures: unknown[] = [];
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const r = await send();
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status !== 200 && failures.length < 5) failures.push(r.body);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { statuses, failures };
    },
  };
}

const lines = (re: RegExp) => cli.output().split('\n').filter((l) => re.test(l)).length;

describe.skipIf(!cliBuilt)('poll mode reloads without outage (built CLI)', () => {
  it('loads a changed config.yaml side by side: no request fails across the switch', async () => {
    const traffic = load(8, () => postJson(`${cli.url}/v2/models/text_encoder/infer`, textRequest(2, 32)));
    await new Promise((r) => setTimeout(r, 500));
    const before = lines(/text_encoder.*version 1 reloaded/);
    appendFileSync(join(dir, 'text_encoder', 'config.yaml'), '\n# touched by the reload test\n');
    await waitForOutput(cli, /text_encoder' version 1 reloaded/);
    await new Promise((r) => setTimeout(r, 500));
    const { statuses, failures } = await traffic.stop();
    expect(failures).toEqual([]);
    expect([...statuses.keys()]).toEqual([200]);
    expect(statuses.get(200)!).toBeGreaterThan(20);
    expect(lines(/text_encoder.*version 1 reloaded/)).toBe(before + 1);
  });

  it('does not reload a model file rewritten with the same content', async () => {
    const sent = await postJson(`${cli.url}/v2/models/tabular_mlp/versions/2/infer`, tab1.cases[0].request);
    expect(sent.status).toBe(200);
    const count = (await getJson(`${cli.url}/v2/models/tabular_mlp/versions/2/stats`)).body.model_stats[0].inference_count;
    const file = join(dir, 'tabular_mlp', '2', 'model.onnx');
    writeFileSync(file, readFileSync(file));
    // Two polls later, the same version object still serves: its statistics were kept.
    await new Promise((r) => setTimeout(r, 2500));
    expect(cli.output()).not.toMatch(/tabular_mlp' version 2 reloaded/);
    expect((await getJson(`${cli.url}/v2/models/tabular_mlp/versions/2/stats`)).body.model_stats[0].inference_count).toBe(count);
  });

  it('keeps a loaded version serving when its reload fails on a corrupted file, and reports the failure', async () => {
    const traffic = load(4, () => postJson(`${cli.url}/v2/models/tabular_mlp/versions/1/infer`, tab1.cases[0].request));
    const file = join(dir, 'tabular_mlp', '1', 'model.onnx');
    const good = readFileSync(file);
    writeFileSync(file, Buffer.from('this is not an onnx model'));
    await waitForOutput(cli, /tabular_mlp' version 1: reload failed, the loaded copy keeps serving/);
    const { statuses } = await traffic.stop();
    expect([...statuses.keys()]).toEqual([200]);
    expect((await getJson(`${cli.url}/v2/health/ready`)).status).toBe(200);
    const index = await postJson(`${cli.url}/v2/repository/index`, {});
    const v1 = index.body.find((e: { name: string; version: string }) => e.name === 'tabular_mlp' && e.version === '1');
    expect(v1.state).toBe('READY');
    expect(v1.reason).toMatch(/reload failed/);
    const metrics = await (await fetch(listenerUrl(cli, 'Metrics'))).text();
    expect(metrics).toMatch(/infergate_model_load_failures_total\{model="tabular_mlp",version="1"\} [1-9]/);
    // A fixed file is loaded again at the next poll.
    copyFileSync(join(dir, 'tabular_mlp', '2', 'model.onnx'), file);
    await waitForOutput(cli, /tabular_mlp' version 1 reloaded/);
    writeFileSync(file, good);
  });

  it('keeps serving a model whose folder becomes unreadable, and says so', async () => {
    chmodSync(join(dir, 'text_encoder'), 0o000);
    try {
      await waitForOutput(cli, /'text_encoder'.*cannot be read.*keep serving/);
      const r = await postJson(`${cli.url}/v2/models/text_encoder/infer`, textRequest(1, 8));
      expect(r.status).toBe(200);
      const warns = cli.output().split('\n').filter((l) => /'text_encoder'.*cannot be read/.test(l));
      expect(JSON.parse(warns[0]).level).toBe(40);
      // Said once, not at every poll.
      await new Promise((r) => setTimeout(r, 2200));
      expect(cli.output().split('\n').filter((l) => /'text_encoder'.*cannot be read/.test(l))).toHaveLength(1);
    } finally {
      chmodSync(join(dir, 'text_encoder'), 0o755);
    }
  });
});
