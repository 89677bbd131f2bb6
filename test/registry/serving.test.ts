import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningCli, cliBuilt, listenerUrl, startCli, waitForOutput } from '../helpers/cli.js';
import { getJson, postJson, scratchRepository } from '../helpers/gateway.js';
import { type GoldenFile, goldenFiles } from '../helpers/golden.js';
import { mlflow } from '../helpers/mlflow-client.js';
import { freshDatabase, postgresUnavailable } from '../helpers/postgres.js';
import { mlpVersion, scratchDir } from '../helpers/registry.js';

const golden = (v: string): GoldenFile => goldenFiles().find((g) => g.model === 'tabular_mlp' && g.version === v)!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pg = await postgresUnavailable();
const running: RunningCli[] = [];
afterAll(() => {
  for (const c of running) c.child.kill('SIGKILL');
});

async function serve(args: string[] = [], cwd = scratchDir('infergate-cwd-')): Promise<RunningCli> {
  // The repository has its own tabular_mlp (versions 1-3): the registry must win once it has a serving alias.
  const repo = scratchRepository(['tabular_mlp', 'simple']);
  const cli = await startCli(repo, ['--registry-poll-secs', '1', '--log-level', 'info', '--metrics-port', '0', ...args], process.env, { cwd });
  running.push(cli);
  return cli;
}

/** The version that answers a request naming none, and whether the answer is that version's golden one. */
async function servedVersion(url: string, path = '/v2/models/tabular_mlp/infer'): Promise<string> {
  const g = golden('2');
  const res = await postJson(`${url}${path}`, g.cases[0].request);
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  const v = res.body.model_version as string;
  const expected = golden(v).cases[0].expected.outputs[0].data as number[];
  (res.body.outputs[0].data as number[]).forEach((x, i) => expect(Math.abs(x - expected[i])).toBeLessThan(1e-4));
  return v;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function register(url: string, source: string): Promise<string> {
  const r = await mlflow(url, 'release').post('model-versions/create', { name: 'tabular_mlp', source });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.model_version.version;
}

const setAlias = (url: string, alias: string, version: string) => mlflow(url, 'release').post('registered-models/alias', { name: 'tabular_mlp', alias, version });

describe.skipIf(!cliBuilt)('serving follows the registry (built CLI)', () => {
  it('serves the version behind champion, hot-swaps on an alias move with no failed request, and never serves a version that fails to load', { timeout: 120_000 }, async () => {
    const cwd = scratchDir('infergate-cwd-');
    const cli = await serve([], cwd);
    const url = cli.url;
    const api = mlflow(url, 'release');
    // Before the registry has a serving alias, the repository folder serves (newest: version 3).
    expect(await servedVersion(url)).toBe('3');
    expect((await api.post('registered-models/create', { name: 'tabular_mlp' })).status).toBe(200);
    for (const v of [1, 2] as const) expect(await register(url, mlpVersion(v))).toBe(String(v));
    expect((await setAlias(url, 'champion', '1')).status).toBe(200);
    await until('champion -> 1 served', async () => ((await servedVersion(url)) === '1' ? true : undefined));
    await waitForOutput(cli, /tabular_mlp': the registry serves it now/);
    // An alias works wherever OIP takes a version string.
    expect(await servedVersion(url, '/v2/models/tabular_mlp/versions/champion/infer')).toBe('1');

    // 50 clients across the move: none fails, and once the move is seen, only version 2 answers.
    let running = true;
    const seen: string[] = [];
    const failures: string[] = [];
    const clients = Array.from({ length: 50 }, async () => {
      while (running) {
        try {
          seen.push(await servedVersion(url));
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    });
    await sleep(300);
    expect((await setAlias(url, 'champion', '2')).status).toBe(200);
    await until('champion -> 2 served', async () => (seen.at(-1) === '2' ? true : undefined));
    await sleep(300);
    running = false;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    const firstTwo = seen.indexOf('2');
    expect(seen.slice(0, firstTwo).every((v) => v === '1')).toBe(true);
    expect(seen.slice(firstTwo + 60).every((v) => v === '2')).toBe(true);
    expect(await servedVersion(url)).toBe('2');
    // Version 1 has no alias left: it unloads.
    await waitForOutput(cli, /tabular_mlp' version 1 unloading: no alias points at it/);

    // A version whose stored file is corrupted never takes traffic: champion stays on 2.
    const v3 = await register(url, mlpVersion(3));
    const dl = await api.get('model-versions/get-download-uri', { name: 'tabular_mlp', version: v3 });
    const v3Dir = new URL(dl.body.artifact_uri).pathname;
    expect(v3Dir.startsWith(join(cwd, '.infergate', 'artifacts'))).toBe(true);
    writeFileSync(join(v3Dir, 'model.onnx'), 'corrupted on disk after registration');
    expect((await setAlias(url, 'champion', v3)).status).toBe(200);
    await waitForOutput(cli, /tabular_mlp' version 3 \(registry\) failed to load and takes no traffic/);
    for (let i = 0; i < 20; i++) expect(await servedVersion(url)).toBe('2');
    const meta = await getJson(`${url}/v2/models/tabular_mlp`);
    expect(meta.body.parameters.serving_notices).toMatch(/version 3: failed to load/);
    const audit = await api.infergate('GET', 'audit', { name: 'tabular_mlp' });
    expect(JSON.stringify(audit.body)).toMatch(/serving_load_failed/);
    const metrics = await (await fetch(listenerUrl(cli, 'Metrics'))).text();
    expect(metrics).toMatch(/infergate_model_load_failures_total\{model="tabular_mlp",version="3"\} 1/);
  });

  it.skipIf(pg !== undefined)(`two gateways on one Postgres: an alias moved through one is served by the other${pg ? ` (skipped: ${pg})` : ''}`, { timeout: 120_000 }, async () => {
    const db = await freshDatabase('infergate_serve');
    try {
      const artifacts = scratchDir('infergate-art-');
      const flags = ['--registry-url', db.url, '--artifact-root', artifacts];
      const a = await serve(flags);
      const b = await serve(flags);
      expect((await mlflow(a.url).post('registered-models/create', { name: 'tabular_mlp' })).status).toBe(200);
      for (const v of [1, 2] as const) await register(a.url, mlpVersion(v));
      await setAlias(a.url, 'champion', '1');
      await until('b serves 1', async () => ((await servedVersion(b.url)) === '1' ? true : undefined));
      await setAlias(a.url, 'champion', '2');
      await until('b serves 2', async () => ((await servedVersion(b.url)) === '2' ? true : undefined), 10_000);
      expect(await servedVersion(a.url)).toBe('2');
    } finally {
      for (const c of running.splice(0)) c.child.kill('SIGKILL');
      await sleep(200);
      await db.drop();
    }
  });
});
