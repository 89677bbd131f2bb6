import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { DATA_MISSING } from '../helpers/drift-fixture.js';
import { mlflow } from '../helpers/mlflow-client.js';
import { drive, registerMlp, registryGateway, rollouts, scratchDir, until } from './helpers.js';


const base = {
  model: 'tabular_mlp', baseline: 'champion', steps: [10, 50, 100], interval: '1s', min_requests: 5, failure_limit: 2,
  analysis: [{ metric: 'error_rate', max: 1 }, { metric: 'disagreement', max: 5 }], mirror_percent: 50,
};

describe.skipIf(DATA_MISSING)('canary rollouts on a real gateway and registry (SQLite)', () => {
  let gw: Gateway;
  let url: string;
  const hooks: unknown[] = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      hooks.push(JSON.parse(body));
      res.end('ok');
    });
  });
  let hookUrl = '';

  beforeAll(async () => {
    ({ gw, url } = await registryGateway(scratchDir()));
    await registerMlp(url);
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
    hook.close();
  });

  it('refuses a bad spec naming the field, and keeps nothing of it', async () => {
    const api = rollouts(url);
    for (const [spec, field] of [
      [{ ...base, candidate: '2', steps: [50, 10, 100] }, "'steps[1]'"],
      [{ ...base, candidate: '2', interval: 'soon' }, "'interval'"],
      [{ ...base, candidate: '2', analysis: [{ metric: 'vibes', max: 1 }] }, "'analysis[0].metric'"],
      [{ ...base, candidate: '2', mirror_percent: 150 }, "'mirror_percent'"],
      [{ ...base, candidate: '2', colour: 'red' }, "'colour'"],
      [{ ...base }, "'candidate'"],
      [{ ...base, strategy: 'ab', candidate: '2' }, "'match'"],
    ] as const) {
      const r = await api.create(spec);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.message).toContain(field);
    }
    const missing = await api.create({ ...base, candidate: '9' });
    expect(missing.status).toBe(404);
    expect((await api.list()).body.rollouts).toEqual([]);
  });

  it('v1 -> v2 in steps [10, 50, 100]: every step passes, champion ends on 2, audit and metrics say so', { timeout: 120_000 }, async () => {
    const api = rollouts(url);
    const created = await api.create({ ...base, candidate: '2', webhook: hookUrl });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.rollout.id as string;
    expect(created.body.rollout).toMatchObject({ phase: 'PROGRESSING', weight: 10, baseline_version: '1', candidate_version: '2', promote_alias: 'champion' });
    const weights = new Set<number>();
    const seen = await drive(url, async () => {
      const r = await api.get(id);
      weights.add(r.weight);
      return r.phase !== 'PROGRESSING';
    });
    const r = await api.get(id);
    expect(r.phase, JSON.stringify(r.runs.slice(-3))).toBe('SUCCEEDED');
    expect([...weights]).toEqual(expect.arrayContaining([10, 50]));
    const passed = r.runs.filter((x: any) => x.outcome === 'passed');
    expect(passed.map((x: any) => x.weight)).toEqual([10, 50]);
    for (const run of passed) {
      expect(run.candidate.requests).toBeGreaterThanOrEqual(5);
      expect(run.mirroredRows).toBeGreaterThan(0);
      expect(run.disagreement).toBeLessThanOrEqual(5);
    }
    expect(seen.get(`2:${id}/candidate`)).toBeGreaterThan(0);
    expect(seen.get(`1:${id}/baseline`)).toBeGreaterThan(0);
    const alias = await mlflow(url).get('registered-models/alias', { name: 'tabular_mlp', alias: 'champion' });
    expect(alias.body.model_version.version).toBe('2');
    // Serving follows champion: no rollout routes any more.
    await until('champion -> 2 serving', async () => {
      const s = await drive(url, async () => true, { concurrency: 1 });
      return [...s.keys()].every((k) => k === '2:') ? true : undefined;
    });
    const audit = await mlflow(url).infergate('GET', 'audit', { name: 'tabular_mlp' });
    const actions = audit.body.entries.map((e: any) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['rollout_created', 'rollout_analysis', 'set_registered_model_alias', 'rollout_succeeded']));
    await until('webhook', async () => (hooks.some((h: any) => h.rollout === id && h.event === 'rollout.succeeded') ? true : undefined), 5000);
    // Put champion back for the next test.
    await mlflow(url, 'release').post('registered-models/alias', { name: 'tabular_mlp', alias: 'champion', version: '1' });
  });

  it('v1 -> v3 rolls back on its own before 50%, the reason naming disagreement; champion stays on 1; the webhook hears it', { timeout: 120_000 }, async () => {
    const api = rollouts(url);
    await until('champion back on 1', async () => ([...(await drive(url, async () => true, { concurrency: 1 })).keys()].every((k) => k === '1:') ? true : undefined));
    const created = await api.create({ ...base, candidate: '3', webhook: hookUrl });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.rollout.id as string;
    let maxWeight = 0;
    await drive(url, async () => {
      const r = await api.get(id);
      maxWeight = Math.max(maxWeight, r.weight);
      return r.phase !== 'PROGRESSING';
    });
    const r = await api.get(id);
    expect(r.phase).toBe('ROLLED_BACK');
    expect(maxWeight).toBeLessThan(50);
    expect(r.weight).toBe(0);
    expect(r.reason).toMatch(/disagreement \d+(\.\d+)?% of \d+ mirrored rows > max 5%/);
    const failed = r.runs.filter((x: any) => x.outcome === 'failed');
    expect(failed.length).toBe(2);
    for (const f of failed) expect(f.disagreement).toBeGreaterThan(5);
    const alias = await mlflow(url).get('registered-models/alias', { name: 'tabular_mlp', alias: 'champion' });
    expect(alias.body.model_version.version).toBe('1');
    const after = await drive(url, async () => true, { concurrency: 1 });
    expect([...after.keys()]).toEqual(['1:']);
    await until('webhook', async () => (hooks.some((h: any) => h.rollout === id && h.event === 'rollout.rolled_back' && /disagreement/.test(h.reason)) ? true : undefined), 5000);
    const metrics = await (await fetch(`http://127.0.0.1:${gw.port('Metrics')}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`infergate_rollout_requests_total\\{model="tabular_mlp",rollout="${id}",arm="candidate"\\} [1-9]`));
  });

  it('promotion goes through the registry: with approval required, an unapproved candidate pauses the rollout with the reason; approved, a manual promote moves champion', { timeout: 60_000 }, async () => {
    const api = rollouts(url);
    const reg = mlflow(url, 'release');
    // The rule can only be turned on while champion's version (1) is approved.
    expect((await reg.infergate('POST', 'model-versions/approval', { name: 'tabular_mlp', version: '1', status: 'APPROVED' })).status).toBe(200);
    expect((await reg.post('registered-models/set-tag', { name: 'tabular_mlp', key: 'infergate.require_approval', value: 'true' })).status).toBe(200);
    const created = await api.create({ ...base, candidate: '2', steps: [50, 100], mirror_percent: 0, analysis: [{ metric: 'error_rate', max: 1 }] });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.rollout.id as string;
    await drive(url, async () => (await api.get(id)).phase !== 'PROGRESSING');
    const paused = await api.get(id);
    expect(paused.phase).toBe('PAUSED');
    expect(paused.reason).toMatch(/^promotion refused: .*requires approval/);
    expect((await mlflow(url).get('registered-models/alias', { name: 'tabular_mlp', alias: 'champion' })).body.model_version.version).toBe('1');
    const refused = await api.act(id, 'promote');
    expect(refused.status).toBe(403);
    expect(refused.body.error_code).toBe('PERMISSION_DENIED');
    expect((await reg.infergate('POST', 'model-versions/approval', { name: 'tabular_mlp', version: '2', status: 'APPROVED' })).status).toBe(200);
    const promoted = await api.act(id, 'promote');
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(200);
    expect(promoted.body.rollout).toMatchObject({ phase: 'SUCCEEDED', weight: 100, reason: 'promoted by release' });
    expect((await mlflow(url).get('registered-models/alias', { name: 'tabular_mlp', alias: 'champion' })).body.model_version.version).toBe('2');
    const audit = await mlflow(url).infergate('GET', 'audit', { name: 'tabular_mlp' });
    const last = audit.body.entries.filter((e: any) => e.action === 'set_registered_model_alias').pop();
    expect(last).toMatchObject({ user: 'release', after: { alias: 'champion', version: '2', serving: true } });
  });
});
