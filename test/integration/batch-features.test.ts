import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cliBuilt, startCli } from '../helpers/cli.js';
import { featureRepository } from '../helpers/feature-gateway.js';
import { PATIENTS_CSV, featureNames, patients } from '../helpers/features.js';
import { scratchRepository } from '../helpers/gateway.js';
import { DATA_MISSING, readJsonl } from '../helpers/jobs.js';

const skip = !cliBuilt ? 'dist/ is not built (npm test builds it)' : DATA_MISSING;

/** Runs the built CLI in a scratch folder (its ./.infergate state stays there). */
function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: mkdtempSync(join(tmpdir(), 'infergate-batch-features-cwd-')), timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(skip)(`infergate batch by entity id through the feature lookup (built CLI)${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let dir: string;
  let fused: string;
  let plain: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'infergate-batch-features-'));
    fused = featureRepository();
    plain = scratchRepository(['tabular_mlp']);
    const m = cli(['features', 'materialize', '2026-01-01', '2027-01-01', '--model-repository', fused]);
    expect(m.code, m.stderr).toBe(0);
  });
  afterAll(() => {
    for (const d of [dir, fused, plain]) rmSync(d, { recursive: true, force: true });
  });

  it('scores a CSV of patient ids: each row equals the job fed the same patients\' features, and an unknown id is a bad row naming it', () => {
    const all = patients();
    const ids = join(dir, 'ids.csv');
    writeFileSync(ids, `patient_id\n${all.map((p) => p.patient_id).join('\n')}\np999999\n`);
    const byId = join(dir, 'by-id.jsonl');
    const run = cli(['batch', '-m', 'tabular_mlp', '-v', '1', '--model-repository', fused, '--pool-size', '2', '--input', ids, '--output', byId, '--id-column', 'patient_id', '--no-progress']);
    expect(run.code, run.stderr).toBe(0);

    const direct = join(dir, 'direct.jsonl');
    const ref = cli(['batch', '-m', 'tabular_mlp', '-v', '1', '--model-repository', plain, '--pool-size', '2', '--input', PATIENTS_CSV(), '--output', direct,
      '--id-column', 'patient_id', '--columns', `features=${featureNames().join(',')}`, '--no-progress']);
    expect(ref.code, ref.stderr).toBe(0);

    const got = readJsonl(byId);
    const want = readJsonl(direct);
    expect(want.length).toBe(all.length);
    // Every known patient once, in input order, with the answer the features sent directly give.
    expect(got.map((r) => r.patient_id)).toEqual(all.map((p) => p.patient_id));
    got.forEach((r, i) => expect(r.probabilities).toEqual(want[i].probabilities));

    const errors = readFileSync(`${byId}.errors.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(errors).toHaveLength(1);
    expect(JSON.stringify(errors[0])).toMatch(/p999999/);
    expect(existsSync(`${direct}.errors.jsonl`) ? readFileSync(`${direct}.errors.jsonl`, 'utf8') : '').toBe('');
  });

  it('does the same against a serving gateway (--url): the ids are looked up there, the unknown one is a bad row', async () => {
    const server = await startCli(fused);
    try {
      const ids = join(dir, 'ids-url.csv');
      const some = patients().slice(0, 150);
      writeFileSync(ids, `patient_id\n${some.map((p) => p.patient_id).join('\n')}\np999998\n`);
      const out = join(dir, 'by-url.jsonl');
      const run = cli(['batch', '-m', 'tabular_mlp', '-v', '1', '--url', server.url, '--input', ids, '--output', out, '--id-column', 'patient_id', '--no-progress']);
      expect(run.code, run.stderr).toBe(0);
      const want = readJsonl(join(dir, 'direct.jsonl')).slice(0, 150);
      const got = readJsonl(out);
      expect(got.map((r) => r.patient_id)).toEqual(some.map((p) => p.patient_id));
      got.forEach((r, i) => expect(r.probabilities).toEqual(want[i].probabilities));
      expect(readFileSync(`${out}.errors.jsonl`, 'utf8')).toMatch(/p999998/);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});
