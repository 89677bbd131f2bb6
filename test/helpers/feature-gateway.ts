import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'redis';
import { startGateway, scratchRepository } from './gateway.js';
import { type StoreYamlOptions, writeFeatureStore } from './features.js';
import type { FrontEnd, Gateway } from '../../src/gateway.js';

export const FUSED_BLOCK = `
features:
  service: breast_cancer
  entity_input: patient_id
  input: features
`;

/** A scratch repository (simple, tabular_mlp with a features: block) with feature_store.yaml at its root. */
export function featureRepository(o: StoreYamlOptions = {}, block = FUSED_BLOCK): string {
  const repo = scratchRepository(['simple', 'tabular_mlp']);
  appendFileSync(join(repo, 'tabular_mlp', 'config.yaml'), block);
  writeFeatureStore(repo, o);
  return repo;
}

/** A gateway on a feature repository, materialized over Oct-Nov 2026 through its own HTTP route. */
export async function startFeatureGateway(repo: string, frontEnds: FrontEnd[] = [], materializeAll = true): Promise<{ gw: Gateway; url: string }> {
  const started = await startGateway({ modelRepository: repo }, frontEnds);
  if (materializeAll) {
    const res = await fetch(`${started.url}/materialize`, { method: 'POST', body: JSON.stringify({ start_ts: '2026-10-01T00:00:00Z', end_ts: '2026-12-01T00:00:00Z' }) });
    if (res.status !== 200) throw new Error(`materialize answered ${res.status}: ${await res.text()}`);
  }
  return started;
}

/** Deletes every key under a prefix on a Redis (test isolation on the shared server). */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const c = createClient({ url });
  await c.connect();
  for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length) await c.del(keys);
  await c.close();
}
