import { join } from 'node:path';
import { expect } from 'vitest';
import type { ServerConfig } from '../../src/config/server-config.js';
import type { FrontEnd, Gateway } from '../../src/gateway.js';
import { readDataCsv } from '../helpers/drift-fixture.js';
import { postJson, scratchRepository, startGateway } from '../helpers/gateway.js';
import { mlflow } from '../helpers/mlflow-client.js';
import { mlpVersion, scratchDir } from '../helpers/registry.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Live rows of the breast cancer data (tabular_mlp's inputs) and their labels. */
export function liveRows(): { features: number[]; label: number }[] {
  const { header, rows } = readDataCsv('breast_cancer_live_nodrift.csv');
  const label = header.indexOf('label');
  const first = header.indexOf('mean_radius');
  return rows.map((r) => ({ features: r.slice(first, first + 30).map(Number), label: Number(r[label]) }));
}

export const inferBody = (features: number[], parameters?: Record<string, string>) => ({
  inputs: [{ name: 'features', shape: [1, 30], datatype: 'FP32', data: features }],
  ...(parameters ? { parameters } : {}),
});

/** Starts a gateway on a registry (SQLite in `dir` unless `url` names one) serving only what the registry serves. */
export async function registryGateway(dir: string, overrides: Partial<ServerConfig> = {}, frontEnds: FrontEnd[] = []): Promise<{ gw: Gateway; url: string }> {
  return startGateway({
    modelRepository: scratchRepository(['simple']),
    registryUrl: join(dir, 'registry.db'),
    artifactRoot: join(dir, 'artifacts'),
    registryPollSecs: 1,
    rolloutTickMs: 100,
    ...overrides,
  }, frontEnds);
}

/** Registers tabular_mlp versions 1-3 through MLflow's REST API and points champion at 1. */
export async function registerMlp(url: string): Promise<void> {
  const api = mlflow(url, 'release');
  expect((await api.post('registered-models/create', { name: 'tabular_mlp' })).status).toBe(200);
  for (const v of [1, 2, 3] as const) {
    const r = await api.post('model-versions/create', { name: 'tabular_mlp', source: mlpVersion(v) });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }
  expect((await api.post('registered-models/alias', { name: 'tabular_mlp', alias: 'champion', version: '1' })).status).toBe(200);
  await until('champion -> 1 serving', async () => {
    const r = await postJson(`${url}/v2/models/tabular_mlp/infer`, inferBody(liveRows()[0].features));
    return r.status === 200 && r.body.model_version === '1' ? true : undefined;
  });
}

export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The rollouts API of a gateway. */
export function rollouts(url: string) {
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await fetch(`${url}/api/2.0/infergate/rollouts${path}`, {
      method,
      headers: { 'x-infergate-user': 'release', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  return {
    create: (spec: unknown) => call('POST', '/', spec),
    get: async (id: string) => (await call('GET', `/${id}`)).body.rollout,
    list: (model?: string) => call('GET', model ? `/?model=${model}` : '/'),
    act: (id: string, action: 'pause' | 'resume' | 'promote' | 'abort', body: unknown = {}) => call('POST', `/${id}/${action}`, body),
  };
}

/** Sends live rows round-robin (keys `k<i>` when keyed) until `done()` says stop; returns the answers' (version, arm) counts. */
export async function drive(url: string, done: () => Promise<boolean>, opts: { keyed?: boolean; concurrency?: number; ms?: number } = {}): Promise<Map<string, number>> {
  const rows = liveRows();
  const seen = new Map<string, number>();
  let i = 0;
  let stop = false;
  const end = Date.now() + (opts.ms ?? 60_000);
  const worker = async () => {
    while (!stop && Date.now() < end) {
      const n = i++;
      const r = await postJson(`${url}/v2/models/tabular_mlp/infer`, inferBody(rows[n % rows.length].features, opts.keyed ? { routing_key: `k${n % 500}` } : undefined));
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const k = `${r.body.model_version}:${r.body.parameters?.rollout ?? ''}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
  };
  const workers = Array.from({ length: opts.concurrency ?? 4 }, worker);
  while (!(await done())) {
    if (Date.now() > end) break;
    await sleep(100);
  }
  stop = true;
  await Promise.all(workers);
  return seen;
}

export { scratchDir };
