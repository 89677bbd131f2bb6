import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultServerConfig } from '../../src/config/server-config.js';
import { Gateway } from '../../src/gateway.js';
import { backgroundShareOf } from '../../src/jobs/background-share.js';
import { installJobs } from '../../src/jobs/install.js';
import { getJson, postJson, scratchRepository } from '../helpers/gateway.js';
import { DATA_MISSING, featureColumns, readJsonl, rowId, waitFor, writeRowsCsv } from '../helpers/jobs.js';

interface JobView {
  id: string;
  state: string;
  error: string | null;
  progress: { rows_done: number; rows_failed: number; fraction: number; rows_per_second: number; eta_seconds: number | null };
}

describe.skipIf(DATA_MISSING)('jobs API in a serving gateway', () => {
  let repo: string;
  let jobsDir: string;
  let gw: Gateway;
  let url: string;
  /** What an observe step (the drift monitor's tap) saw, by source. */
  const observed = new Map<string, number>();

  async function start(): Promise<void> {
    const config = { ...defaultServerConfig(), host: '127.0.0.1', httpPort: 0, grpcPort: -1, metricsPort: -1, modelRepository: repo, poolSize: 2, jobsDir };
    gw = new Gateway(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), processMetrics: false });
    installJobs(gw);
    gw.dataplane.addObserveStep({
      name: 'test tap', appliesTo: () => true,
      observe: (o) => observed.set(o.ctx.source, (observed.get(o.ctx.source) ?? 0) + o.inputs[0].shape[0]),
    });
    await gw.start();
    url = `http://127.0.0.1:${gw.port('HTTP')}/api/2.0/infergate/jobs`;
  }

  const spec = (output: string, input = 'rows.csv') => ({ model: 'tabular_mlp', version: '1', input, output, columns: { features: featureColumns() } });
  const job = async (id: string) => (await getJson(`${url}/${id}`)).body.job as JobView;
  const until = (id: string, states: string[], ms = 120_000) => waitFor(async () => {
    const j = await job(id);
    return states.includes(j.state) ? j : undefined;
  }, ms, `job ${id} to be ${states.join(' or ')}`);

  beforeAll(async () => {
    repo = scratchRepository(['tabular_mlp']);
    jobsDir = mkdtempSync(join(tmpdir(), 'infergate-jobs-'));
    writeRowsCsv(join(jobsDir, 'rows.csv'), 100_000);
    writeRowsCsv(join(jobsDir, 'small.csv'), 20_000);
    await start();
  });
  afterAll(async () => {
    await gw?.stop();
    rmSync(repo, { recursive: true, force: true });
    rmSync(jobsDir, { recursive: true, force: true });
  });

  it('refuses bad specs with the field named, and unknown jobs with 404', async () => {
    expect((await postJson(url, { input: 'rows.csv', output: 'x.jsonl' })).body.error).toMatch(/'model' is required/);
    const escape = await postJson(url, { ...spec('x.jsonl'), input: '../etc/passwd' });
    expect(escape.status).toBe(400);
    expect(escape.body.error).toMatch(/'input': '..\/etc\/passwd' must stay inside the jobs folder/);
    expect((await postJson(url, { ...spec('x.jsonl'), input: '/etc/passwd' })).status).toBe(400);
    expect((await postJson(url, { ...spec('x.jsonl'), colums: {} })).body.error).toMatch(/unknown field 'colums'/);
    expect((await postJson(url, { ...spec('x.jsonl'), max_errors: -1 })).body.error).toMatch(/'max_errors' must be an integer >= 0/);
    const missing = await getJson(`${url}/no-such-job`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/no job 'no-such-job'/);
  });

  it('runs a job to the end, with progress, and lists it', async () => {
    const created = await postJson(url, spec('small.jsonl', 'small.csv'));
    expect(created.status).toBe(201);
    const id = created.body.job.id as string;
    const done = await until(id, ['SUCCEEDED', 'FAILED']);
    expect(done.error).toBe(null);
    expect(done.state).toBe('SUCCEEDED');
    expect(done.progress).toMatchObject({ rows_done: 20_000, rows_failed: 0, fraction: 1 });
    expect(done.progress.rows_per_second).toBeGreaterThan(0);
    const rows = readJsonl(join(jobsDir, 'small.jsonl'));
    expect(rows.length).toBe(20_000);
    rows.forEach((r, i) => expect(r.id).toBe(rowId(i)));
    const list = (await getJson(url)).body.jobs as JobView[];
    expect(list.map((j) => j.id)).toContain(id);
  });

  it('fails a job with a clear error when its mapping does not fit', async () => {
    const created = await postJson(url, { model: 'tabular_mlp', version: '1', input: 'small.csv', output: 'nomap.jsonl', columns: { features: ['mean_radius'] } });
    const done = await until(created.body.job.id, ['SUCCEEDED', 'FAILED']);
    expect(done.state).toBe('FAILED');
    expect(done.error).toMatch(/columns\.features: input 'features' takes 30 values per row, the mapping names 1 columns/);
  });

  it('serves interactive requests while a job runs, the job keeping at most its share of the workers while they wait', async () => {
    const created = await postJson(url, spec('shared.jsonl'));
    const id = created.body.job.id as string;
    await until(id, ['RUNNING', 'SUCCEEDED']);
    const infer = `http://127.0.0.1:${gw.port('HTTP')}/v2/models/tabular_mlp/versions/1/infer`;
    const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: new Array(30).fill(1) }] });
    let ok = 0;
    let duringJob = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let k = 0; k < 150; k++) {
        const res = await fetch(infer, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        if (res.status === 200) ok++;
        await res.arrayBuffer();
        if ((await job(id)).state === 'RUNNING') duringJob++;
      }
    }));
    expect(ok).toBe(16 * 150);
    expect(duringJob).toBeGreaterThan(0);
    const done = await until(id, ['SUCCEEDED', 'FAILED']);
    expect(done.state).toBe('SUCCEEDED');
    expect(readJsonl(join(jobsDir, 'shared.jsonl')).length).toBe(100_000);
    const mv = gw.router.resolve('tabular_mlp', '1');
    const gate = backgroundShareOf(mv, () => ({ depth: mv.depth, slots: 2 }));
    // The rule was exercised, and while interactive requests were there the job held at most
    // half of the 2 workers (one request of 64 rows at a time).
    expect(gate.stats.submittedWhileInteractive).toBeGreaterThan(0);
    expect(gate.stats.maxOutstandingWhileInteractive).toBe(1);
    const metrics = await gw.metrics.registry.getSingleMetricAsString('infergate_rows_by_source_total');
    expect(metrics).toMatch(/infergate_rows_by_source_total\{model="tabular_mlp",version="1",source="http"\} 2400/);
    expect(metrics).toMatch(/infergate_rows_by_source_total\{model="tabular_mlp",version="1",source="batch"\} \d{6}/);
    // The observe steps (where the drift monitor samples) see the job's rows as they see HTTP's.
    expect(observed.get('batch')).toBeGreaterThanOrEqual(100_000);
    expect(observed.get('http')).toBe(2400);
  }, 180_000);

  it('cancels a running job on DELETE: its output holds a prefix of the input, as its checkpoint says', async () => {
    const id = (await postJson(url, spec('cancelled.jsonl'))).body.job.id as string;
    await waitFor(async () => ((await job(id)).progress.rows_done > 0 ? true : undefined), 60_000, 'rows');
    const del = await fetch(`${url}/${id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    const j = await until(id, ['CANCELLED', 'SUCCEEDED']);
    expect(j.state).toBe('CANCELLED');
    {
      const ck = JSON.parse(readFileSync(join(jobsDir, 'cancelled.jsonl.checkpoint.json'), 'utf8')) as { rowsDone: number; done: boolean };
      const rows = readJsonl(join(jobsDir, 'cancelled.jsonl'));
      expect(rows.length).toBe(ck.rowsDone);
      expect(ck.done).toBe(false);
      expect(ck.rowsDone).toBeLessThan(100_000);
      rows.forEach((r, i) => expect(r.id).toBe(rowId(i)));
    }
  });

  it('resumes an interrupted job after the gateway restarts: every row once, in order', async () => {
    const id = (await postJson(url, spec('restart.jsonl'))).body.job.id as string;
    await waitFor(async () => ((await job(id)).progress.rows_done > 0 ? true : undefined), 60_000, 'rows');
    await gw.drainAndStop();
    const record = JSON.parse(readFileSync(join(jobsDir, '.jobs', `${id}.json`), 'utf8')) as { state: string };
    expect(record.state).toBe('INTERRUPTED');
    await start();
    const done = await until(id, ['SUCCEEDED', 'FAILED']);
    expect(done.state).toBe('SUCCEEDED');
    const rows = readJsonl(join(jobsDir, 'restart.jsonl'));
    expect(rows.length).toBe(100_000);
    rows.forEach((r, i) => expect(r.id).toBe(rowId(i)));
  }, 180_000);
});
