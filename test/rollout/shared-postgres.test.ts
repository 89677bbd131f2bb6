import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { DATA_MISSING } from '../helpers/drift-fixture.js';
import { freshDatabase, postgresUnavailable } from '../helpers/postgres.js';
import { drive, inferBody, liveRows, registerMlp, registryGateway, rollouts, scratchDir, until } from './helpers.js';

const unavailable = (await postgresUnavailable()) ?? DATA_MISSING;

const versionFor = async (url: string, key: string) => {
  const r = await fetch(`${url}/v2/models/tabular_mlp/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(inferBody(liveRows()[0].features, { routing_key: key })) });
  return ((await r.json()) as any).model_version as string;
};

describe.skipIf(unavailable !== undefined)(`two gateways on one PostgreSQL drive one rollout${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let db: { url: string; drop(): Promise<void> };
  let a: { gw: Gateway; url: string };
  let b: { gw: Gateway; url: string };
  beforeAll(async () => {
    db = await freshDatabase('infergate_rollout');
    const dir = scratchDir();
    a = await registryGateway(dir, { registryUrl: db.url });
    b = await registryGateway(dir, { registryUrl: db.url });
    await registerMlp(a.url);
    await until('b serves champion', async () => ((await versionFor(b.url, 'x')) === '1' ? true : undefined));
  }, 90_000);
  afterAll(async () => {
    await a?.gw.stop();
    await b?.gw.stop();
    await db?.drop();
  });

  it('only one gateway drives the steps; both route every key to the same version at each weight', { timeout: 120_000 }, async () => {
    const api = rollouts(a.url);
    const created = await api.create({ model: 'tabular_mlp', baseline: 'champion', candidate: '2', steps: [10, 50, 100], interval: '700ms', min_requests: 3 });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.rollout.id;
    const owners = [a.gw.rollouts!.owner, b.gw.rollouts!.owner];
    const drivers = new Set<string>();
    for (const w of [10, 50]) {
      // Each gateway analyses the traffic it served itself, so both get traffic (as behind a load balancer).
      await Promise.all([a.url, b.url].map((u) => drive(u, async () => {
        const r = await api.get(id);
        if (r.driver) drivers.add(r.driver);
        return r.weight >= w;
      })));
      const held = (await api.act(id, "pause")).body.rollout;
      // B follows the stored state by polling: wait until it routes by the held weight, then compare key by key.
      await until(`b at weight ${held.weight}`, async () => {
        const keys = Array.from({ length: 100 }, (_, k) => `key-${k}`);
        const [va, vb] = await Promise.all([a.url, b.url].map((u) => Promise.all(keys.map((k) => versionFor(u, k)))));
        return va.every((v, i) => v === vb[i]) && va.filter((v) => v === '2').length > 0 ? true : undefined;
      }, 10_000);
      expect((await api.act(id, "resume")).status).toBe(200);
    }
    // Traffic to both gateways; the driver's own traffic decides its runs.
    await Promise.all([a.url, b.url].map((u) => drive(u, async () => {
      const r = await rollouts(b.url).get(id);
      if (r.driver) drivers.add(r.driver);
      return r.phase !== 'PROGRESSING';
    })));
    const r = await api.get(id);
    expect(r.phase).toBe('SUCCEEDED');
    expect(drivers.size).toBe(1);
    expect(owners).toContain([...drivers][0]);
    expect(r.runs.filter((x: any) => x.outcome === 'passed').map((x: any) => x.weight)).toEqual([10, 50]);
    await until('both serve 2', async () => ((await versionFor(a.url, 'z')) === '2' && (await versionFor(b.url, 'z')) === '2' ? true : undefined));
  });

  it('analyses the traffic of every gateway: a rollout whose only traffic reaches the follower still steps and promotes', { timeout: 120_000 }, async () => {
    const api = rollouts(a.url);
    const created = await api.create({ model: 'tabular_mlp', baseline: 'champion', candidate: '3', steps: [20, 100], interval: '700ms', min_requests: 20, analysis: [{ metric: 'error_rate', max: 1 }] });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const id = created.body.rollout.id;
    const driverOf = async () => {
      for (;;) {
        const d = (await api.get(id)).driver;
        if (d) return d as string;
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    const driver = await driverOf();
    const follower = driver === a.gw.rollouts!.owner ? b : a;
    // Every request goes to the gateway that does not drive the rollout.
    const seen = await drive(follower.url, async () => (await api.get(id)).phase !== 'PROGRESSING');
    const r = await api.get(id);
    expect(r.phase, JSON.stringify(r.runs.slice(-3))).toBe('SUCCEEDED');
    const passed = r.runs.filter((x: any) => x.outcome === 'passed');
    expect(passed.map((x: any) => x.weight)).toEqual([20]);
    // The driver's run counted the follower's requests, with latency percentiles from their histogram buckets.
    const run = passed[0];
    expect(run.baseline.requests).toBeGreaterThanOrEqual(20);
    expect(run.candidate.requests).toBeGreaterThanOrEqual(20);
    expect(run.candidate.p99Ms).toBeGreaterThan(0);
    expect(run.candidate.p99Ms).toBeGreaterThanOrEqual(run.candidate.p50Ms);
    const sent = [...seen.values()].reduce((x, y) => x + y, 0);
    const analysed = r.runs.reduce((n: number, x: any) => n + x.baseline.requests + x.candidate.requests, 0);
    expect(analysed).toBeLessThanOrEqual(sent);
  });
});
