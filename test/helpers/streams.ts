import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { scratchRepository } from './gateway.js';
import { breastCancerRows } from './jobs.js';

/** A scratch repository holding tabular_mlp whose config.yaml has this `streams` block. */
export function streamRepository(streams: Record<string, unknown>[]): string {
  const repo = scratchRepository(['tabular_mlp']);
  const cfg = join(repo, 'tabular_mlp', 'config.yaml');
  writeFileSync(cfg, `${readFileSync(cfg, 'utf8')}\n${stringify({ streams })}`);
  return repo;
}

/**
 * Message i of a test stream: even ones an OIP v2 request with id `m<i>`, odd ones a row
 * object {id, features: [...]}; the poison ones are not JSON (undecodable) or have 29
 * features (inference refuses them on every delivery).
 */
export function message(i: number): string {
  const { rows } = breastCancerRows();
  const feats = rows[i % rows.length].slice(2, 32).map(Number);
  if (i % 2 === 0) return JSON.stringify({ id: `m${i}`, inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: feats }] });
  return JSON.stringify({ id: `m${i}`, features: feats });
}

export function poison(k: number): string {
  if (k % 2 === 0) return `{not json ${k}`;
  return JSON.stringify({ id: `poison${k}`, inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 29], data: new Array(29).fill(0.5) }] });
}
