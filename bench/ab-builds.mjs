// Compares this tree's built CLI with an earlier commit's, interleaved in one run:
//   npm run build && node bench/ab-builds.mjs --ref <commit> [--models simple,tabular_mlp] [--conns 64] [--rounds 3] [--duration 5]
// The earlier commit is checked out into a temporary git worktree (sharing node_modules) and built there.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { abCompare, abTable } from './ab-lib.mjs';
import { MODELS_DIR, ROOT, parseFlags, workloads } from './lib.mjs';

const f = parseFlags(process.argv.slice(2));
if (!f.ref || f.ref === true) {
  process.stderr.write('usage: node bench/ab-builds.mjs --ref COMMIT [--models simple,tabular_mlp] [--conns 64] [--rounds 3] [--duration 5]\n');
  process.exit(2);
}
const models = String(f.models ?? 'simple,tabular_mlp').split(',');
const conns = Number(f.conns ?? 64);
const dir = mkdtempSync(join(tmpdir(), 'infergate-ab-'));
const git = (...a) => execFileSync('git', ['-C', ROOT, ...a], { stdio: ['ignore', 'pipe', 'inherit'] }).toString();
const serve = (cli, models) => [cli, 'serve', '--model-repository', models, '--host', '127.0.0.1', '--http-port', '0', '--grpc-port=-1', '--metrics-port=-1', '--log-level', 'warn'];
try {
  process.stderr.write(`building ${f.ref} in ${dir}...\n`);
  git('worktree', 'add', '--detach', dir, String(f.ref));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { stdio: 'inherit' });
  const w = workloads();
  const out = [];
  for (const m of models) {
    const wl = w[m];
    const summary = await abCompare(
      // Each build serves the sample models it ships (an older build refuses config keys added since).
      [{ label: `${String(f.ref).slice(0, 10)}`, args: serve(join(dir, 'dist/cli/main.js'), join(dir, 'models')) }, { label: 'this tree', args: serve(join(ROOT, 'dist/cli/main.js'), MODELS_DIR) }],
      { path: wl.path, body: JSON.stringify(wl.request), connections: conns },
      { rounds: Number(f.rounds ?? 3), seconds: Number(f.duration ?? 5) },
    );
    out.push(abTable(summary, `### ${m}, ${conns} connections`));
  }
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  try {
    git('worktree', 'remove', '--force', dir);
  } catch {
    rmSync(dir, { recursive: true, force: true });
  }
}
