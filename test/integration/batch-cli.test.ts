import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { parquetWriteFile } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { CLI, cliBuilt, startCli } from '../helpers/cli.js';
import { scratchRepository, startGateway } from '../helpers/gateway.js';
import { DATA_MISSING, breastCancerRows, featureColumns, readJsonl, rowId, waitFor, writeRowsCsv } from '../helpers/jobs.js';

const skip = !cliBuilt ? 'dist/ is not built (npm test builds it)' : DATA_MISSING;
const ROWS = 100_000;

interface Run { code: number | null; stdout: string; stderr: string }

function runBatch(args: string[], onStart?: (c: ChildProcess) => void): Promise<Run> {
  // In a scratch folder: the batch CLI keeps its ./.infergate state (the registry it resolves aliases in) there.
  const child = spawn(process.execPath, [CLI, 'batch', ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: mkdtempSync(join(tmpdir(), 'infergate-batch-cwd-')) });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  onStart?.(child);
  return new Promise((r) => child.on('exit', (code) => r({ code, stdout, stderr })));
}

describe.skipIf(skip)('infergate batch (built CLI) on tabular_mlp', () => {
  let dir: string;
  let repo: string;
  let csv: string;
  let base: string[];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'infergate-batch-'));
    repo = scratchRepository(['tabular_mlp']);
    csv = join(dir, 'rows.csv');
    writeRowsCsv(csv, ROWS);
    base = ['-m', 'tabular_mlp', '-v', '1', '--model-repository', repo, '--pool-size', '2', '--columns', `features=${featureColumns().join(',')}`];
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(repo, { recursive: true, force: true });
  });

  it('scores 100,000 CSV rows: every row once, in order, equal to real-time answers on a 1,000-row sample', async () => {
    const out = join(dir, 'scores.jsonl');
    const run = await runBatch([...base, '--input', csv, '--output', out]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/100000 rows written/);
    expect(run.stderr).toMatch(/rows\/s/);
    expect(run.stderr).toMatch(/100\.0%/);
    const rows = readJsonl(out);
    expect(rows.length).toBe(ROWS);
    rows.forEach((r, i) => expect(r.id).toBe(rowId(i)));
    expect(existsSync(`${out}.errors.jsonl`) ? readFileSync(`${out}.errors.jsonl`, 'utf8') : '').toBe('');

    // Real time: the same rows, one request each, over HTTP to a gateway.
    let gw: Gateway | undefined;
    try {
      const started = await startGateway({ modelRepository: repo });
      gw = started.gw;
      const source = breastCancerRows().rows;
      const sample = Array.from({ length: 1000 }, (_, k) => Math.floor((k * 7919) % ROWS));
      const answers = new Map<number, number[]>();
      for (let b = 0; b < sample.length; b += 16) {
        await Promise.all(sample.slice(b, b + 16).map(async (i) => {
          const feats = source[i % source.length].slice(2, 32).map(Number);
          const res = await fetch(`${started.url}/v2/models/tabular_mlp/versions/1/infer`, {
            method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: feats }] }),
          });
          const body = (await res.json()) as { outputs: { data: number[] }[] };
          answers.set(i, body.outputs[0].data);
        }));
      }
      for (const i of sample) {
        const got = rows[i].probabilities as number[];
        const want = answers.get(i)!;
        expect(got.length).toBe(2);
        for (let k = 0; k < 2; k++) expect(Math.abs(got[k] - want[k])).toBeLessThan(1e-6);
      }
    } finally {
      await gw?.stop();
    }
  }, 240_000);

  it('kill -9 at about half way, then --resume: every input row exactly once, in order', async () => {
    const out = join(dir, 'killed.jsonl');
    const ck = `${out}.checkpoint.json`;
    let killedAt = 0;
    let tail = 0;
    const first = await runBatch([...base, '--input', csv, '--output', out, '--checkpoint-every-ms', '50', '--no-progress'], (child) => {
      void waitFor(() => {
        if (!existsSync(ck)) return undefined;
        let c: { rowsDone: number; outputBytes: number };
        try {
          c = JSON.parse(readFileSync(ck, 'utf8'));
        } catch {
          return undefined;
        }
        if (c.rowsDone < ROWS * 0.4) return undefined;
        child.kill('SIGKILL');
        killedAt = c.rowsDone;
        return true;
      }, 120_000, 'the job to pass 40%').catch(() => child.kill('SIGKILL'));
    });
    expect(first.code).toBe(null); // killed by the signal
    expect(killedAt).toBeGreaterThanOrEqual(ROWS * 0.4);
    expect(killedAt).toBeLessThan(ROWS);
    const c = JSON.parse(readFileSync(ck, 'utf8')) as { outputBytes: number; done: boolean };
    expect(c.done).toBe(false);
    tail = statSync(out).size - c.outputBytes;
    // A torn write after the last checkpoint: the resume must drop it.
    appendFileSync(out, '{"id":"torn-wri');
    const second = await runBatch([...base, '--input', csv, '--output', out, '--resume', '--no-progress']);
    expect(second.code, second.stderr).toBe(0);
    const rows = readJsonl(out);
    expect(rows.length).toBe(ROWS);
    rows.forEach((r, i) => expect(r.id).toBe(rowId(i)));
    expect(new Set(rows.map((r) => r.id)).size).toBe(ROWS);
    expect(tail).toBeGreaterThanOrEqual(0);
    // Resuming a finished job does nothing more.
    const third = await runBatch([...base, '--input', csv, '--output', out, '--resume', '--no-progress']);
    expect(third.code).toBe(0);
    expect(readJsonl(out).length).toBe(ROWS);
  }, 240_000);

  it('refuses to overwrite an output without --resume or --overwrite', async () => {
    const out = join(dir, 'exists.jsonl');
    writeFileSync(out, 'x\n');
    const run = await runBatch([...base, '--input', csv, '--output', out, '--no-progress']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/already exists: pass --resume .* or --overwrite/);
  });

  it('reads Parquet and writes Parquet (and CSV): the same answers as the JSONL output of the same rows', async () => {
    const n = 3000;
    const src = join(dir, 'small.csv');
    writeRowsCsv(src, n);
    const { rows } = breastCancerRows();
    const cols = featureColumns();
    const pqIn = join(dir, 'small.parquet');
    parquetWriteFile({
      filename: pqIn,
      columnData: [
        { name: 'id', data: Array.from({ length: n }, (_, i) => rowId(i)), type: 'STRING' },
        ...cols.map((c, k) => ({ name: c, data: Array.from({ length: n }, (_, i) => Number(rows[i % rows.length][k + 2])), type: 'DOUBLE' as const })),
      ],
    });
    const jsonl = join(dir, 'small.jsonl');
    const pqOut = join(dir, 'small.out.parquet');
    const csvOut = join(dir, 'small.out.csv');
    expect((await runBatch([...base, '--input', src, '--output', jsonl, '--no-progress'])).code).toBe(0);
    const pq = await runBatch([...base, '--input', pqIn, '--output', pqOut, '--no-progress']);
    expect(pq.code, pq.stderr).toBe(0);
    expect((await runBatch([...base, '--input', pqIn, '--output', csvOut, '--no-progress'])).code).toBe(0);
    expect(existsSync(`${pqOut}.spool.jsonl`)).toBe(false);
    const want = readJsonl(jsonl);
    const got = (await parquetReadObjects({ file: await asyncBufferFromFile(pqOut) })) as Record<string, unknown>[];
    expect(got.length).toBe(n);
    const csvLines = readFileSync(csvOut, 'utf8').trim().split('\n');
    expect(csvLines[0]).toBe('id,probabilities_0,probabilities_1');
    expect(csvLines.length).toBe(n + 1);
    for (let i = 0; i < n; i++) {
      const p = want[i].probabilities as number[];
      expect(got[i].id).toBe(rowId(i));
      expect(got[i].probabilities_0).toBe(p[0]);
      expect(got[i].probabilities_1).toBe(p[1]);
      expect(csvLines[i + 1]).toBe(`${rowId(i)},${p[0]},${p[1]}`);
    }
  }, 120_000);

  it('sends bad rows to the error file with their line and reason; --max-errors stops the job', async () => {
    const src = join(dir, 'bad.csv');
    writeRowsCsv(src, 20);
    const lines = readFileSync(src, 'utf8').trim().split('\n');
    lines[5] = lines[5].replace(/,[^,]+$/, ',abc'); // line 6: a value that is not a number
    lines[9] = lines[9].split(',').slice(0, 10).join(','); // line 10: columns missing
    lines[12] = lines[12].replace(/^([^,]+,[^,]+,[^,]+,)[^,]+/, '$1'); // line 13: an empty value
    writeFileSync(src, `${lines.join('\n')}\n`);
    const out = join(dir, 'bad.jsonl');
    const run = await runBatch([...base, '--input', src, '--output', out, '--no-progress']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/17 rows written .* 3 bad rows/);
    const errs = readJsonl(`${out}.errors.jsonl`);
    expect(errs.map((e) => e.line)).toEqual([6, 10, 13]);
    expect(errs[0].reason).toMatch(/column 'worst_fractal_dimension': "abc" is not a number/);
    expect(errs[1].reason).toMatch(/missing column/);
    expect(errs[2].reason).toMatch(/column 'event_timestamp'|column 'mean_radius' is empty/);
    expect(readJsonl(out).map((r) => r.id)).toEqual(Array.from({ length: 20 }, (_, i) => rowId(i)).filter((_, i) => ![4, 8, 11].includes(i)));
    const strict = await runBatch([...base, '--input', src, '--output', join(dir, 'strict.jsonl'), '--max-errors', '2', '--no-progress']);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/3 bad rows, more than --max-errors 2/);
  }, 120_000);

  it('sends the rows to a running gateway with --url: the same output as in-process', async () => {
    const src = join(dir, 'remote.csv');
    writeRowsCsv(src, 2000);
    const local = join(dir, 'local.jsonl');
    const remote = join(dir, 'remote.jsonl');
    expect((await runBatch([...base, '--input', src, '--output', local, '--no-progress'])).code).toBe(0);
    const cli = await startCli(repo, ['--pool-size', '1']);
    try {
      const run = await runBatch(['-m', 'tabular_mlp', '-v', '1', '--url', cli.url, '--columns', `features=${featureColumns().join(',')}`, '--input', src, '--output', remote, '--no-progress']);
      expect(run.code, run.stderr).toBe(0);
      const stats = (await (await fetch(`${cli.url}/v2/models/tabular_mlp/versions/1/stats`)).json()) as { model_stats: { inference_count: number }[] };
      expect(stats.model_stats[0].inference_count).toBe(2000);
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
    }
    expect(readFileSync(remote, 'utf8')).toBe(readFileSync(local, 'utf8'));
  }, 120_000);

  it('answers a JSONL file of OIP v2 requests line by line, bad lines to the error file', async () => {
    const { rows } = breastCancerRows();
    const lines = rows.slice(0, 5).map((r, i) => JSON.stringify({ id: `q${i}`, inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: r.slice(2, 32).map(Number) }] }));
    lines.splice(2, 0, '{"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 29], "data": []}]}');
    const src = join(dir, 'requests.jsonl');
    writeFileSync(src, `${lines.join('\n')}\n`);
    const out = join(dir, 'responses.jsonl');
    const run = await runBatch(['-m', 'tabular_mlp', '-v', '1', '--model-repository', repo, '--input', src, '--output', out, '--no-progress']);
    expect(run.code, run.stderr).toBe(0);
    const res = readJsonl(out);
    expect(res.map((r) => r.id)).toEqual(['q0', 'q1', 'q2', 'q3', 'q4']);
    expect(res[0]).toMatchObject({ model_name: 'tabular_mlp', model_version: '1', outputs: [{ name: 'probabilities', shape: [1, 2] }] });
    const errs = readJsonl(`${out}.errors.jsonl`);
    expect(errs.length).toBe(1);
    expect(errs[0].line).toBe(3);
    expect(errs[0].reason).toMatch(/features/);
  });

  it('names what is wrong with a mapping', async () => {
    // The sample tabular_mlp maps its input from its monitoring block's columns; a mapping naming a column the file lacks is refused.
    const run = await runBatch(['-m', 'tabular_mlp', '-v', '1', '--model-repository', repo, '--input', csv, '--output', join(dir, 'nomap.jsonl'), '--no-progress', '--columns', 'features=no_such_column']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/columns\.features: column 'no_such_column' not in the input/);
  });
});
