// The cost of a canary rollout on the hot path (issue 13): tabular_mlp at 64 connections
// through a rollout at 50% with 10% of baseline requests mirrored to the candidate, against
// version 1 served directly; interleaved in one run.
//   npm run build && node bench/rollout-bench.mjs [--rounds 4] [--duration 5] [--conns 64]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { abCompare, abTable } from './ab-lib.mjs';
import { MODELS_DIR, ROOT, parseFlags, workloads } from './lib.mjs';

const f = parseFlags(process.argv.slice(2));
const cli = join(ROOT, 'dist/cli/main.js');
const wl = workloads().tabular_mlp;
const post = (url, path, body) => fetch(`${url}/api/2.0/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function ready(url, path) {
  for (let i = 0; i < 200; i++) {
    if ((await fetch(`${url}${path}`)).status === 200) return;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`${path} never became ready`);
}

/** Registers tabular_mlp versions 1 and 2 and points champion at 1. */
async function register(url) {
  await post(url, 'mlflow/registered-models/create', { name: 'tabular_mlp' });
  for (const v of ['1', '2']) await post(url, 'mlflow/model-versions/create', { name: 'tabular_mlp', source: join(MODELS_DIR, 'tabular_mlp', v) });
  await post(url, 'mlflow/registered-models/alias', { name: 'tabular_mlp', alias: 'champion', version: '1' });
  await ready(url, '/v2/models/tabular_mlp/versions/champion/ready');
}

/** Registers both versions with champion on 2 (so version 2 is loaded and served). */
async function registerOnTwo(url) {
  await register(url);
  await post(url, 'mlflow/registered-models/alias', { name: 'tabular_mlp', alias: 'champion', version: '2' });
  await ready(url, '/v2/models/tabular_mlp/versions/2/ready');
}

/** Also starts a rollout 1 -> 2 held at 50% (a day-long interval) with 10% mirroring. */
async function rollout(url) {
  await register(url);
  const r = await post(url, 'infergate/rollouts', { model: 'tabular_mlp', baseline: 'champion', candidate: '2', steps: [50, 100], interval: '24h', mirror_percent: 10 });
  if (r.status !== 200) throw new Error(`rollout refused: ${await r.text()}`);
  await ready(url, '/v2/models/tabular_mlp/versions/2/ready');
}

/** Rows per execution of each version during a round (batching is what a rollout's split changes). */
async function probe(url, before) {
  const stats = (await (await fetch(`${url}/v2/models/tabular_mlp/stats`)).json()).model_stats;
  const now = Object.fromEntries(stats.map((m) => [m.version, [m.inference_count, m.execution_count]]));
  if (!before) return now;
  return Object.entries(now)
    .map(([v, [i, e]]) => [v, i - (before[v]?.[0] ?? 0), e - (before[v]?.[1] ?? 0)])
    .filter(([, , execs]) => execs > 0)
    .map(([v, rows, execs]) => `v${v} ${(rows / execs).toFixed(1)} rows/execution`)
    .join(', ');
}

const target = (label, path, setup) => ({
  label, path, setup, probe, cwd: mkdtempSync(join(tmpdir(), 'infergate-rollout-bench-')),
  args: [cli, 'serve', '--model-repository', join(MODELS_DIR), '--host', '127.0.0.1', '--http-port', '0', '--grpc-port=-1', '--metrics-port=-1', '--log-level', 'warn'],
});
// Version 2 is a larger network than version 1: it is measured alone too, so that the cost of
// the mix itself (half the traffic on the heavier version) is told apart from the rollout's own.
const summary = await abCompare(
  [
    target('versions/1 directly', '/v2/models/tabular_mlp/versions/1/infer', register),
    target('rollout 50% + 10% mirror', '/v2/models/tabular_mlp/infer', rollout),
    target('versions/2 directly', '/v2/models/tabular_mlp/versions/2/infer', registerOnTwo),
  ],
  { path: wl.path, body: JSON.stringify(wl.request), connections: Number(f.conns ?? 64) },
  { rounds: Number(f.rounds ?? 4), seconds: Number(f.duration ?? 5) },
);
process.stdout.write(`${abTable(summary, `### tabular_mlp, ${f.conns ?? 64} connections: rollout at 50% with 10% mirroring vs version 1 directly`)}\n`);
// What the traffic mix alone would reach: per request, half of v1's cost and half of v2's, from
// the same run's direct figures; the rest (routing, counting, mirroring) is the rollout's own.
const [v1, , v2] = summary;
const mix = 1 / (0.5 / v1.rps + 0.5 / v2.rps);
process.stdout.write(`version 2 alone / version 1 alone: ${(v2.rps / v1.rps).toFixed(3)}; the same mix served without a rollout would reach ${mix.toFixed(0)} req/s (${(mix / v1.rps).toFixed(3)} of version 1); the rollout reached ${(summary[1].rps / mix).toFixed(3)} of that\n`);
