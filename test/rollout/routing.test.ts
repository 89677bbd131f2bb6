import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { DATA_MISSING } from '../helpers/drift-fixture.js';
import { postJson } from '../helpers/gateway.js';
import { mlflow } from '../helpers/mlflow-client.js';
import { drive, inferBody, liveRows, registerMlp, registryGateway, rollouts, scratchDir, until } from './helpers.js';


const infer = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}/v2/models/tabular_mlp/infer`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

describe.skipIf(DATA_MISSING)('rollout routing: stickiness, A/B match, shadow, restart (real gateway, SQLite registry)', () => {
  const dir = scratchDir();
  let gw: Gateway;
  let url: string;
  beforeAll(async () => {
    ({ gw, url } = await registryGateway(dir));
    await registerMlp(url);
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
  });

  it('200 routing keys, 20 sends each across the steps: one version per key within a step, never back from the candidate, shares follow the weight', { timeout: 120_000 }, async () => {
    const api = rollouts(url);
    const created = await api.create({ model: 'tabular_mlp', baseline: 'champion', candidate: '2', steps: [10, 30, 50, 70, 100], interval: '500ms', min_requests: 3, analysis: [{ metric: 'error_rate', max: 1 }] });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.rollout.id as string;
    // The rollout pins the candidate loaded; until it is READY its keys are served by the baseline.
    await until('candidate loaded', async () => ((await fetch(`${url}/v2/models/tabular_mlp/versions/2/ready`)).status === 200 ? true : undefined));
    const rows = liveRows();
    const onCandidate = new Set<string>();
    const weightsSeen: number[] = [];
    // 4 steps x 5 rounds = 20 sends per key; the weight is held (pause) while a step's rounds run.
    for (let step = 0; step < 4; step++) {
      const held = (await api.act(id, 'pause')).body.rollout;
      expect(held.phase).toBe('PAUSED');
      const w = held.weight as number;
      weightsSeen.push(w);
      const versionOf = new Map<string, Set<string>>();
      for (let round = 0; round < 5; round++) {
        await Promise.all(Array.from({ length: 200 }, async (_, k) => {
          const key = `user-${k}`;
          const r = await infer(url, inferBody(rows[(k + round) % rows.length].features, { routing_key: key }));
          expect(r.status).toBe(200);
          expect(r.body.parameters.rollout).toBe(`${id}/${r.body.model_version === '2' ? 'candidate' : 'baseline'}`);
          if (!versionOf.has(key)) versionOf.set(key, new Set());
          versionOf.get(key)!.add(r.body.model_version);
        }));
      }
      for (const [key, vs] of versionOf) {
        expect(vs.size, `key ${key} at weight ${w}`).toBe(1);
        const v = [...vs][0];
        if (onCandidate.has(key)) expect(v, `key ${key} went back to the baseline at weight ${w}`).toBe('2');
        if (v === '2') onCandidate.add(key);
      }
      const share = [...versionOf.values()].filter((vs) => vs.has('2')).length;
      const p = w / 100;
      const sd = Math.sqrt(200 * p * (1 - p));
      expect(Math.abs(share - 200 * p), `${share} of 200 keys on the candidate at weight ${w}`).toBeLessThanOrEqual(4 * sd);
      // Move one step on: resume, send unkeyed traffic until the weight changes.
      expect((await api.act(id, 'resume')).status).toBe(200);
      await drive(url, async () => (await api.get(id)).weight !== w || (await api.get(id)).phase !== 'PROGRESSING');
    }
    expect(weightsSeen).toEqual([10, 30, 50, 70]);
    await until('promotion', async () => ((await api.get(id)).phase === 'SUCCEEDED' ? true : undefined), 30_000).catch(async () => {
      await drive(url, async () => (await api.get(id)).phase !== 'PROGRESSING');
    });
    expect((await api.get(id)).phase).toBe('SUCCEEDED');
    await mlflow(url, 'release').post('registered-models/alias', { name: 'tabular_mlp', alias: 'champion', version: '1' });
  });

  it('an A/B match header always reaches the candidate; an explicit version is never routed', { timeout: 60_000 }, async () => {
    const api = rollouts(url);
    await until('champion on 1', async () => ((await infer(url, inferBody(liveRows()[0].features))).body.model_version === '1' ? true : undefined));
    const created = await api.create({ model: 'tabular_mlp', baseline: 'champion', candidate: '2', strategy: 'ab', steps: [10], interval: '1h', match: [{ header: 'x-canary', value: '1' }] });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.rollout.id;
    await until('candidate loaded', async () => ((await infer(url, inferBody(liveRows()[0].features), { 'x-canary': '1' })).body.model_version === '2' ? true : undefined));
    for (let i = 0; i < 50; i++) {
      const r = await infer(url, inferBody(liveRows()[i].features, { routing_key: `ab-${i}` }), { 'x-canary': '1' });
      expect(r.body.model_version).toBe('2');
      expect(r.body.parameters.rollout).toBe(`${id}/candidate`);
      const explicit = await postJson(`${url}/v2/models/tabular_mlp/versions/1/infer`, inferBody(liveRows()[i].features));
      expect(explicit.body.model_version).toBe('1');
      expect(explicit.body.parameters?.rollout).toBeUndefined();
    }
    const aborted = await api.act(id, 'abort', { reason: 'test over' });
    expect(aborted.body.rollout).toMatchObject({ phase: 'ROLLED_BACK', weight: 0 });
    expect(aborted.body.rollout.reason).toContain('test over');
    const after = await infer(url, inferBody(liveRows()[0].features), { 'x-canary': '1' });
    expect(after.body.model_version).toBe('1');
  });

  it('shadow: clients always get the baseline answer, the candidate gets the copies, analysis reports, never promotes', { timeout: 60_000 }, async () => {
    const api = rollouts(url);
    const created = await api.create({ model: 'tabular_mlp', baseline: 'champion', candidate: '3', strategy: 'shadow', mirror_percent: 100, interval: '500ms', min_requests: 5, failure_limit: 1000, analysis: [{ metric: 'disagreement', max: 5 }] });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.rollout.id;
    const rows = liveRows();
    // The answers version 1 gives when asked directly.
    const direct = await Promise.all(rows.slice(0, 40).map((r) => postJson(`${url}/v2/models/tabular_mlp/versions/1/infer`, inferBody(r.features))));
    await until('a few analysis runs', async () => {
      const answers = await Promise.all(rows.slice(0, 40).map((r) => infer(url, inferBody(r.features, { routing_key: 'same' }))));
      answers.forEach((a, i) => {
        expect(a.body.model_version).toBe('1');
        expect(a.body.parameters.rollout).toBe(`${id}/baseline`);
        expect(a.body.outputs[0].data).toEqual(direct[i].body.outputs[0].data);
      });
      const r = await api.get(id);
      return r.runs.filter((x: any) => x.outcome === 'failed').length >= 2 ? r : undefined;
    });
    const r = await api.get(id);
    expect(r.phase).toBe('PROGRESSING');
    expect(r.weight).toBe(0);
    const failed = r.runs.find((x: any) => x.outcome === 'failed');
    expect(failed.candidate.requests).toBeGreaterThan(0);
    expect(failed.disagreement).toBeGreaterThan(5);
    await api.act(id, 'abort');
  });

  it('a gateway restarted mid-rollout resumes it at the same step', { timeout: 90_000 }, async () => {
    const api = rollouts(url);
    // A 2 s interval: the gateway stops well before the step at 60% could be analysed.
    const created = await api.create({ model: 'tabular_mlp', baseline: 'champion', candidate: '2', steps: [20, 60, 100], interval: '2s', min_requests: 3 });
    const id = created.body.rollout.id;
    await drive(url, async () => (await api.get(id)).weight === 60);
    const before = await api.get(id);
    expect(before).toMatchObject({ weight: 60, step_index: 1, phase: 'PROGRESSING' });
    await gw.stop();
    ({ gw, url } = await registryGateway(dir));
    const api2 = rollouts(url);
    const after = await api2.get(id);
    expect(after).toMatchObject({ weight: 60, step_index: 1, phase: 'PROGRESSING' });
    expect(after.runs.slice(0, before.runs.length)).toEqual(before.runs);
    // Routing resumes with it: keyed traffic is split between the arms and answers name the rollout.
    const seen = await until('both arms served after restart', async () => {
      const s = await drive(url, async () => true, { keyed: true });
      return s.has(`2:${id}/candidate`) && s.has(`1:${id}/baseline`) ? s : undefined;
    });
    expect(seen.size).toBe(2);
    await drive(url, async () => (await api2.get(id)).phase !== 'PROGRESSING');
    const done = await api2.get(id);
    expect(done.phase).toBe('SUCCEEDED');
    expect(done.runs.filter((x: any) => x.outcome === 'passed').map((x: any) => x.weight)).toEqual([20, 60]);
  });
});
