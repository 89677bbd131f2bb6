// Compares this tree's built CLI with an earlier commit's, interleaved in one run:
//   npm run build && node bench/ab-builds.mjs --ref <commit> [--against <commit>] [--models simple,tabular_mlp] [--conns 64] [--rounds 3] [--duration 5]
// The earlier commit (and, with --against, the later one in place of this tree) is checked out
// into a temporary git worktree (sharing node_modules) and built there.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { abCompare, abTable } from './ab-lib.mjs';
import { MODELS_DIR, ROOT, parseFlags, workloads } from './lib.mjs';

const f = parseFlags(process.argv.slice(2));
if (!f.ref || f.ref === true) {
  process.stderr.write('usage: node bench/ab-builds.mjs --ref COMMIT [--against COMMIT] [--models simple,tabular_mlp] [--conns 64] [--rounds 3] [--duration 5]\n');
  process.exit(2);
}
const models = String(f.models ?? 'simple,tabular_mlp').split(',');
const conns = Number(f.conns ?? 64);
const git = (...a) => execFileSync('git', ['-C', ROOT, ...a], { stdio: ['ignore', 'pipe', 'inherit'] }).toString();
const serve = (cli, models) => [cli, 'serve', '--model-repository', models, '--host', '127.0.0.1', '--http-port', '0', '--grpc-port=-1', '--metrics-port=-1', '--log-level', 'warn'];
const worktrees = [];

/** Checks a commit out into a temporary worktree and builds it; its CLI and the sample models it ships. */
function built(ref) {
  const dir = mkdtempSync(join(tmpdir(), 'infergate-ab-'));
  process.stderr.write(`building ${ref} in ${dir}...\n`);
  git('worktree', 'add', '--detach', dir, String(ref));
  worktrees.push(dir);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { stdio: 'inherit' });
  return { label: String(ref).slice(0, 10), cli: join(dir, 'dist/cli/main.js'), models: join(dir, 'models') };
}

try {
  // Each build serves the sample models it ships (an older build refuses config keys added since).
  const builds = [built(f.ref), f.against ? built(f.against) : { label: 'this tree', cli: join(ROOT, 'dist/cli/main.js'), models: MODELS_DIR }];
  const w = workloads();
  const out = [];
  for (const m of models) {
    const wl = w[m];
    const summary = await abCompare(
      builds.map((b) => ({ label: b.label, args: serve(b.cli, b.models) })),
      { path: wl.path, body: JSON.stringify(wl.request), connections: conns },
      { rounds: Number(f.rounds ?? 3), seconds: Number(f.duration ?? 5) },
    );
    out.push(abTable(summary, `### ${m}, ${conns} connections`));
  }
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  for (const dir of worktrees) {
    try {
      git('worktree', 'remove', '--force', dir);
    } catch {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
