// Batch job throughput against the in-process compute ceiling, same run, interleaved:
//   (a) bench/ceiling.mjs: raw onnxruntime-node session.run at the best batch size and layout
//   (b) `infergate batch` on a 100,000-row CSV of the breast-cancer rows (tabular_mlp v1),
//       rows/s as the job reports it (from its first row to its last, model load excluded)
// and the same for text_encoder (JSONL rows of 32 token ids), where compute dominates.
//
//   npm run build && node bench/jobs-bench.mjs [--rounds 2] [--rows 100000]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureCeiling } from './ceiling.mjs';
import { MODELS_DIR, ROOT, TEXT_SEQ, median, parseFlags } from './lib.mjs';

const f = parseFlags(process.argv.slice(2));
const ROUNDS = Number(f.rounds ?? 2);
const ROWS = Number(f.rows ?? 100_000);
const TEXT_ROWS = Number(f['text-rows'] ?? 2000);
const CLI = join(ROOT, 'dist/cli/main.js');
if (!existsSync(CLI)) throw new Error('dist/ is not built: npm run build');

function dataDir() {
  const env = process.env.INFERGATE_DATA ?? process.env.INFERGATE_SHARED_DATA;
  const found = (env ? [env] : [join(ROOT, '../shared/data'), join(ROOT, '../../shared/data')]).find((d) => existsSync(join(d, 'breast_cancer_live_nodrift.csv')));
  if (!found) throw new Error('shared data folder not found: set INFERGATE_DATA');
  return found;
}

const dir = mkdtempSync(join(tmpdir(), 'infergate-jobs-bench-'));
const src = readFileSync(join(dataDir(), 'breast_cancer_live_nodrift.csv'), 'utf8').trim().split('\n');
const cols = src[0].split(',').slice(2, 32);
const csv = join(dir, 'rows.csv');
{
  const parts = [`id,${src[0]}\n`];
  for (let i = 0; i < ROWS; i++) parts.push(`r${i},${src[1 + (i % (src.length - 1))]}\n`);
  writeFileSync(csv, parts.join(''));
}
const jsonl = join(dir, 'text.jsonl');
{
  const lines = [];
  for (let i = 0; i < TEXT_ROWS; i++) {
    const ids = Array.from({ length: TEXT_SEQ }, (_, k) => (i * 31 + k * 7919 + 13) % 8192);
    lines.push(JSON.stringify({ id: `t${i}`, input_ids: ids, attention_mask: ids.map(() => 1) }));
  }
  writeFileSync(jsonl, `${lines.join('\n')}\n`);
}

function job(model, input, extra) {
  return new Promise((resolve, reject) => {
    const out = join(dir, `${model}.out.jsonl`);
    const child = spawn(process.execPath, [CLI, 'batch', '-m', model, '-v', '1', '--model-repository', MODELS_DIR, '--input', input, '--output', out, '--overwrite', '--no-progress', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => {
      const m = /\((\d+) rows\/s\)/.exec(stdout);
      if (code !== 0 || !m) return reject(new Error(`batch failed (${code}): ${stderr}${stdout}`));
      resolve(Number(m[1]));
    });
  });
}

const cases = [
  { model: 'tabular_mlp', input: csv, extra: ['--columns', `features=${cols.join(',')}`], rows: ROWS },
  { model: 'text_encoder', input: jsonl, extra: [], rows: TEXT_ROWS },
];
const results = cases.map(() => ({ ceiling: [], job: [], best: [] }));
for (let r = 0; r < ROUNDS; r++) {
  for (const [i, c] of cases.entries()) {
    const ceil = await measureCeiling({ model: c.model, ms: 800 });
    const rate = await job(c.model, c.input, c.extra);
    results[i].ceiling.push(ceil.best.rowsPerSec);
    results[i].best.push(`${ceil.best.layout} batch ${ceil.best.batch}`);
    results[i].job.push(rate);
    process.stderr.write(`round ${r + 1}/${ROUNDS} ${c.model}: job ${rate} rows/s, ceiling ${Math.round(ceil.best.rowsPerSec)} rows/s (${ceil.best.layout}, batch ${ceil.best.batch}), ratio ${(rate / ceil.best.rowsPerSec).toFixed(3)}\n`);
  }
}
rmSync(dir, { recursive: true, force: true });
const lines = ['| model | rows | job rows/s | ceiling rows/s (best layout, batch) | job / ceiling (median of rounds) |', '| --- | ---: | ---: | ---: | ---: |'];
cases.forEach((c, i) => {
  const x = results[i];
  const ratio = median(x.job.map((j, k) => j / x.ceiling[k]));
  lines.push(`| ${c.model} | ${c.rows} | ${Math.round(median(x.job))} | ${Math.round(median(x.ceiling))} (${x.best[0]}) | ${ratio.toFixed(3)} |`);
});
process.stdout.write(`${lines.join('\n')}\n`);
