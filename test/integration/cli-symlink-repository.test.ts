import { cpSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningCli, cliBuilt, startCli } from '../helpers/cli.js';
import { MODELS, getJson, postJson } from '../helpers/gateway.js';
import { type GoldenCase, expectClose, goldenFiles } from '../helpers/golden.js';

let cli: RunningCli | undefined;
afterEach(async () => {
  expect(await cli?.stop()).toBe(0);
  cli = undefined;
});

const scratch = () => mkdtempSync(join(tmpdir(), 'infergate-links-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET with the path sent byte for byte (fetch would normalise '..' away). */
function rawGet(base: string, path: string): Promise<{ status: number; body: { error?: string } }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: Number(new URL(base).port), path, method: 'GET' }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const golden = (model: string, version: string): { cases: GoldenCase[]; tolerance: { atol: number; rtol: number } } =>
  goldenFiles().find((g) => g.model === model && g.version === version)!;

/** Infers the first golden case of tabular_mlp through the CLI and returns the probabilities. */
async function mlpProbabilities(base: string, model: string): Promise<number[]> {
  const res = await postJson(`${base}/v2/models/${model}/infer`, golden('tabular_mlp', '1').cases[0].request);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.outputs[0].data;
}

describe('a model repository made of symbolic links (infergate serve)', () => {
  it.skipIf(!cliBuilt)('follows linked model folders, version folders, model.onnx and config.yaml, skips dot-entries and dangling links, refuses escaping names (needs dist/, which npm test builds)', async () => {
    // The operator's layout: models live elsewhere and the repository links to them.
    const data = scratch();
    cpSync(join(MODELS, 'tabular_mlp'), join(data, 'tabular_mlp'), { recursive: true });
    cpSync(join(MODELS, 'simple', '1'), join(data, 'simple-v1'), { recursive: true });
    const repo = scratch();
    symlinkSync(join(data, 'tabular_mlp'), join(repo, 'tabular_mlp')); // ln -s /data/tabular_mlp models/tabular_mlp
    mkdirSync(join(repo, 'simple'));
    symlinkSync(join(data, 'simple-v1'), join(repo, 'simple', '1')); // a version folder that is a link
    symlinkSync(join(data, 'nowhere'), join(repo, 'dangling'));
    // Real folders whose files are links: model.onnx and config.yaml point elsewhere.
    writeFileSync(join(data, 'linked.yaml'), 'max_batch_size: 4\n');
    mkdirSync(join(repo, 'linked_files', '1'), { recursive: true });
    symlinkSync(join(data, 'linked.yaml'), join(repo, 'linked_files', 'config.yaml'));
    symlinkSync(join(data, 'simple-v1', 'model.onnx'), join(repo, 'linked_files', '1', 'model.onnx'));
    mkdirSync(join(repo, '.infergate'));
    cpSync(join(MODELS, 'simple'), join(repo, '.hidden_model'), { recursive: true });

    cli = await startCli(repo);
    const index = await postJson(`${cli.url}/v2/repository/index`, {});
    expect(index.body).toEqual([
      { name: 'linked_files', version: '1', state: 'READY', reason: '' },
      { name: 'simple', version: '1', state: 'READY', reason: '' },
      { name: 'tabular_mlp', version: '1', state: 'READY', reason: '' },
      { name: 'tabular_mlp', version: '2', state: 'READY', reason: '' },
      { name: 'tabular_mlp', version: '3', state: 'READY', reason: '' },
    ]);
    expect((await getJson(`${cli.url}/v2/health/ready`)).status).toBe(200);

    const g = golden('tabular_mlp', '2');
    const res = await postJson(`${cli.url}/v2/models/tabular_mlp/versions/2/infer`, g.cases[0].request);
    expect(res.status).toBe(200);
    expectClose(res.body.outputs[0].data, g.cases[0].expected.outputs[0], g.tolerance);
    const simple = await postJson(`${cli.url}/v2/models/simple/infer`, {
      inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: Array(16).fill(3) })),
    });
    expect(simple.body.outputs[0].data).toEqual(Array(16).fill(6));
    const linked = await postJson(`${cli.url}/v2/models/linked_files/infer`, {
      inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: Array(16).fill(2) })),
    });
    expect(linked.body.outputs[0].data).toEqual(Array(16).fill(4));
    expect((await getJson(`${cli.url}/v2/models/linked_files/config`)).body.max_batch_size).toBe(4); // read through the link

    // Names that would leave the repository, or that name a dot-entry, stay refused.
    for (const name of ['..', '.hidden_model', '..data', '.infergate', `%2F${data.slice(1).replace(/\//g, '%2F')}%2Ftabular_mlp`, 'simple%2F..%2F..']) {
      const r = await rawGet(cli.url, `/v2/models/${name}`);
      expect(r.status, name).toBe(400);
      expect(r.body.error).toMatch(/invalid model name/);
    }
    expect((await getJson(`${cli.url}/v2/models/dangling`)).status).toBe(404);
  });

  it.skipIf(!cliBuilt)('poll mode reloads a model when a Kubernetes-style ..data link is swapped, without a failed request (needs dist/)', async () => {
    // A ConfigMap/Secret volume: every entry is a link into ..data, which links to a
    // timestamped folder; an update writes a new folder and renames a new link over ..data.
    const vol = scratch();
    const first = '..2026_12_01_10_00_00.000000001';
    cpSync(join(MODELS, 'tabular_mlp', '1'), join(vol, first, 'mlp', '1'), { recursive: true });
    symlinkSync(first, join(vol, '..data'));
    symlinkSync(join('..data', 'mlp'), join(vol, 'mlp'));

    cli = await startCli(vol, ['--model-control-mode', 'poll', '--repository-poll-secs', '1']);
    const url = cli.url;
    const v1 = golden('tabular_mlp', '1');
    expectClose(await mlpProbabilities(url, 'mlp'), v1.cases[0].expected.outputs[0], v1.tolerance);
    expect((await postJson(`${url}/v2/repository/index`, {})).body.map((e: { name: string }) => e.name)).toEqual(['mlp']);

    // The new revision carries other weights (tabular_mlp version 3) of the same size and
    // with the loaded file's mtime: only the link's new target says it changed.
    const second = '..2026_12_01_11_00_00.000000002';
    cpSync(join(MODELS, 'tabular_mlp', '3'), join(vol, second, 'mlp', '1'), { recursive: true });
    const loaded = statSync(join(vol, first, 'mlp', '1', 'model.onnx'));
    const swapped = join(vol, second, 'mlp', '1', 'model.onnx');
    expect(statSync(swapped).size).toBe(loaded.size);
    utimesSync(swapped, loaded.atime, loaded.mtime);
    symlinkSync(second, join(vol, '..data_tmp'));
    renameSync(join(vol, '..data_tmp'), join(vol, '..data'));
    rmSync(join(vol, first), { recursive: true });

    // Requests keep being served while the reload happens; the answer turns into version 3's.
    const v3 = golden('tabular_mlp', '3');
    const expected3 = v3.cases[0].expected.outputs[0].data as number[];
    const end = Date.now() + 30_000;
    let probabilities = await mlpProbabilities(url, 'mlp');
    while (Math.abs(probabilities[0] - expected3[0]) > 1e-5) {
      if (Date.now() > end) throw new Error(`still serving the old weights after the ..data swap:\n${cli.output()}`);
      await sleep(50);
      probabilities = await mlpProbabilities(url, 'mlp');
    }
    expectClose(probabilities, v3.cases[0].expected.outputs[0], v3.tolerance);
    const index = await postJson(`${url}/v2/repository/index`, {});
    expect(index.body).toEqual([{ name: 'mlp', version: '1', state: 'READY', reason: '' }]);
  });
});
