import { execFile } from 'node:child_process';
import { existsSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ortInstall } from '../../src/cli/doctor-host.js';
import type { DoctorReport } from '../../src/cli/doctor.js';
import { defaultServerConfig } from '../../src/config/server-config.js';
import { Gateway } from '../../src/gateway.js';
import { MODELS, getJson, postJson, scratchRepository } from '../helpers/gateway.js';
import { expectClose, goldenFiles } from '../helpers/golden.js';

// No GPU here: every cuda attempt fails, which is exactly the path these tests need.
const CONFIGS: Record<string, string> = {
  fallback: 'execution_providers: [cuda, cpu]\n',
  strict: 'execution_providers:\n  - { name: cuda, require: true }\n  - cpu\n',
  gpu_group: 'instance_group: [{ kind: KIND_GPU, count: 2, gpus: [1] }]\n',
};
const simpleGolden = goldenFiles().find((f) => f.model === 'simple' && f.version === '1')!;

let repo: string;
let gw: Gateway;
let url: string;
const logLines: string[] = [];

beforeAll(async () => {
  repo = scratchRepository(['simple']);
  for (const [name, yaml] of Object.entries(CONFIGS)) {
    cpSync(join(MODELS, 'simple'), join(repo, name), { recursive: true });
    writeFileSync(join(repo, name, 'config.yaml'), yaml);
  }
  // Built here rather than with startGateway: these tests read the startup log lines.
  const logger = pino({ level: 'info' }, { write: (s: string) => void logLines.push(JSON.parse(s).msg) });
  gw = new Gateway(
    { ...defaultServerConfig(), host: '127.0.0.1', httpPort: 0, grpcPort: -1, metricsPort: -1, poolSize: 2, modelRepository: repo, modelControlMode: 'explicit', loadModels: ['*'] },
    { logger, processMetrics: false },
  );
  await gw.start();
  url = `http://127.0.0.1:${gw.port('HTTP')}`;
});
afterAll(async () => {
  await gw?.stop();
  if (repo) rmSync(repo, { recursive: true, force: true });
});

async function inferGolden(model: string): Promise<void> {
  const c = simpleGolden.cases[0];
  const res = await postJson(`${url}/v2/models/${model}/infer`, { inputs: c.request.inputs });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  for (const e of c.expected.outputs) {
    const o = res.body.outputs.find((x: { name: string }) => x.name === e.name);
    expect(o.shape).toEqual(e.shape);
    expectClose(o.data, e, simpleGolden.tolerance);
  }
}

describe('execution_providers: [cuda, cpu] without a GPU', () => {
  it('loads READY on cpu, and the metadata says so and why', async () => {
    const res = await getJson(`${url}/v2/models/fallback`);
    expect(res.status).toBe(200);
    expect(res.body.parameters.execution_provider).toBe('cpu');
    expect(res.body.parameters.provider_fallback_reason).toMatch(/^cuda: .*Failed to load shared library/);
  });

  it('shows the provider in the infergate_model_provider gauge', async () => {
    const text = await gw.metrics.registry.metrics();
    expect(text).toMatch(/infergate_model_provider\{model="fallback",version="1",provider="cpu"\} 1/);
    expect(text).not.toMatch(/infergate_model_provider\{model="fallback",version="1",provider="cuda"\}/);
  });

  it('logs the fallback once, in the READY line', () => {
    const ready = logLines.filter((l) => l.startsWith("model 'fallback' version 1 READY"));
    expect(ready).toHaveLength(1);
    expect(ready[0]).toMatch(/READY on cpu \(fell back: cuda: /);
  });

  it('still answers the golden case', async () => {
    await inferGolden('fallback');
  });
});

describe('a required provider that cannot load', () => {
  it('leaves the model UNAVAILABLE with the reason in the repository index', async () => {
    const res = await postJson(`${url}/v2/repository/index`, {});
    const strict = res.body.find((e: { name: string }) => e.name === 'strict');
    expect(strict.state).toBe('UNAVAILABLE');
    expect(strict.reason).toMatch(/cuda: .*Failed to load shared library/);
    expect(strict.reason).not.toMatch(/^cpu:/);
  });

  it('makes the server not ready, and its requests fail as unavailable', async () => {
    expect((await getJson(`${url}/v2/health/ready`)).status).toBe(400);
    const res = await postJson(`${url}/v2/models/strict/infer`, { inputs: simpleGolden.cases[0].request.inputs });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatch(/cuda/);
  });

  it('does not stop the other models from loading and serving', async () => {
    const index = (await postJson(`${url}/v2/repository/index`, {})).body as { name: string; state: string }[];
    expect(index.filter((e) => e.name !== 'strict').map((e) => `${e.name}:${e.state}`).sort()).toEqual([
      'fallback:READY', 'gpu_group:READY', 'simple:READY',
    ]);
    await inferGolden('simple');
  });
});

describe('instance_group KIND_GPU and the pool layout', () => {
  it('maps KIND_GPU to cuda on the first listed GPU, then cpu, and falls back with a reason', async () => {
    const mv = gw.router.versionsOf('gpu_group')[0];
    expect(mv.spec.providers).toEqual([
      { name: 'cuda', require: false, options: { device_id: 1 } },
      { name: 'cpu', require: false, options: {} },
    ]);
    const meta = (await getJson(`${url}/v2/models/gpu_group`)).body;
    expect(meta.parameters.execution_provider).toBe('cpu');
    expect(meta.parameters.provider_fallback_reason).toMatch(/^cuda: /);
    await inferGolden('gpu_group');
  });

  it('gives each GPU-configured model its own pool, one worker per instance; CPU models share one', () => {
    const pools = Object.fromEntries(gw.pools.all().map((p) => [p.name, p.size]));
    expect(pools).toEqual({ cpu: 2, 'cuda:fallback': 1, 'cuda:strict': 1, 'cuda:gpu_group': 2 });
    expect(gw.router.versionsOf('simple')[0].pool.name).toBe('cpu');
    expect(gw.router.versionsOf('gpu_group')[0].pool.name).toBe('cuda:gpu_group');
  });

  it('closes the model\'s pool when it is unloaded, and leaves the shared one', async () => {
    const res = await postJson(`${url}/v2/repository/models/gpu_group/unload`, {});
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(gw.pools.all().map((p) => p.name).sort()).toEqual(['cpu', 'cuda:fallback', 'cuda:strict']);
    await inferGolden('simple');
  });
});

describe('infergate doctor', () => {
  const cudaLibraryPresent = existsSync(join(ortInstall().binDir, 'libonnxruntime_providers_cuda.so'));
  let report: DoctorReport;
  let exitCode: number;

  beforeAll(async () => {
    const root = resolve(import.meta.dirname, '../..');
    const tsx = join(root, 'node_modules', '.bin', 'tsx');
    const run = await promisify(execFile)(tsx, ['src/cli/main.ts', 'doctor', '--json'], { cwd: root }).then(
      (r) => ({ ...r, code: 0 }),
      (e: { stdout: string; stderr: string; code: number }) => e,
    );
    exitCode = run.code;
    report = JSON.parse(run.stdout) as DoctorReport;
  });

  it('exits 0 and reports cpu usable, having run the tiny model', () => {
    expect(exitCode).toBe(0);
    const cpu = report.providers.find((p) => p.provider === 'cpu')!;
    expect(cpu.usable).toBe(true);
    expect(cpu.session).toMatchObject({ loaded: true, ran: true });
    expect(report.onnxruntime_node).toBe('1.29.0');
  });

  it('reports every provider infergate serves, each unusable one with a reason and a fix', () => {
    expect(report.providers.map((p) => p.provider)).toEqual(expect.arrayContaining(['cpu', 'cuda', 'webgpu']));
    for (const p of report.providers.filter((x) => !x.usable)) {
      expect(p.why.length, p.provider).toBeGreaterThan(0);
      expect(p.fix, p.provider).toBeTruthy();
    }
  });

  it.skipIf(cudaLibraryPresent)('reports cuda unusable because its provider library is missing (skipped: a CUDA provider library is installed here)', () => {
    const cuda = report.providers.find((p) => p.provider === 'cuda')!;
    expect(cuda.usable).toBe(false);
    expect(cuda.why).toMatch(/provider libraries: missing in .*libonnxruntime_providers_cuda\.so/);
    expect(cuda.session.error).toMatch(/Failed to load shared library/);
    expect(cuda.fix).toMatch(/libonnxruntime_providers_cuda\.so and libonnxruntime_providers_shared\.so .* next to libonnxruntime\.so\.1/);
    expect(cuda.fix).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12|--onnxruntime-node-install=cuda12/);
  });
});
