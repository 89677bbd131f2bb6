// The cost of resolving a registry alias on the hot path (issue 11): tabular_mlp at 64
// connections through /versions/champion against /versions/1, interleaved in one run.
//   npm run build && node bench/registry-alias-bench.mjs [--rounds 4] [--duration 5] [--conns 64]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { abCompare, abTable } from './ab-lib.mjs';
import { MODELS_DIR, ROOT, parseFlags, workloads } from './lib.mjs';

const f = parseFlags(process.argv.slice(2));
const cli = join(ROOT, 'dist/cli/main.js');
const wl = workloads().tabular_mlp;

/** Registers tabular_mlp version 1 from the sample repository and points champion at it. */
async function registerChampion(url) {
  const post = (path, body) => fetch(`${url}/api/2.0/mlflow/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await post('registered-models/create', { name: 'tabular_mlp' });
  await post('model-versions/create', { name: 'tabular_mlp', source: join(MODELS_DIR, 'tabular_mlp', '1') });
  await post('registered-models/alias', { name: 'tabular_mlp', alias: 'champion', version: '1' });
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${url}/v2/models/tabular_mlp/versions/champion/ready`);
    if (r.status === 200) return;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error('champion never became ready');
}

const target = (label, path) => {
  const cwd = mkdtempSync(join(tmpdir(), 'infergate-alias-bench-'));
  return {
    label, path, cwd, setup: registerChampion,
    args: [cli, 'serve', '--model-repository', join(MODELS_DIR), '--host', '127.0.0.1', '--http-port', '0', '--grpc-port=-1', '--metrics-port=-1', '--log-level', 'warn'],
  };
};
const summary = await abCompare(
  [target('versions/1', '/v2/models/tabular_mlp/versions/1/infer'), target('versions/champion', '/v2/models/tabular_mlp/versions/champion/infer')],
  { path: wl.path, body: JSON.stringify(wl.request), connections: Number(f.conns ?? 64) },
  { rounds: Number(f.rounds ?? 4), seconds: Number(f.duration ?? 5) },
);
process.stdout.write(`${abTable(summary, `### tabular_mlp, ${f.conns ?? 64} connections: alias vs version number`)}\n`);
