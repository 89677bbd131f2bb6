import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { MODELS } from './gateway.js';

export interface GoldenTensor {
  name: string;
  shape: number[];
  datatype: string;
  data: (number | string | boolean)[];
}
export interface GoldenCase {
  description: string;
  request: { inputs: GoldenTensor[] };
  expected: { outputs: GoldenTensor[] };
}
export interface GoldenFile {
  model: string;
  version: string;
  tolerance: { atol: number; rtol: number };
  cases: GoldenCase[];
}

/** Every golden.json shipped in models/. */
export function goldenFiles(): GoldenFile[] {
  const out: GoldenFile[] = [];
  for (const model of readdirSync(MODELS).sort()) {
    const dir = join(MODELS, model);
    if (!existsSync(dir) || !readdirSync(dir, { withFileTypes: true }).some((d) => d.isDirectory())) continue;
    for (const version of readdirSync(dir).filter((v) => /^\d+$/.test(v)).sort()) {
      const f = join(dir, version, 'golden.json');
      if (!existsSync(f)) continue;
      const g = JSON.parse(readFileSync(f, 'utf8'));
      out.push({ model, version, tolerance: g.tolerance, cases: g.cases });
    }
  }
  return out;
}

/** numpy allclose per element, with a message naming the output and index. */
export function expectClose(actual: ArrayLike<number | bigint | string>, expected: GoldenTensor, tol: { atol: number; rtol: number }): void {
  expect(actual.length, `${expected.name} element count`).toBe(expected.data.length);
  for (let i = 0; i < expected.data.length; i++) {
    const e = expected.data[i];
    const a = actual[i];
    if (typeof e === 'string' || typeof e === 'boolean') {
      expect(a, `${expected.name}[${i}]`).toBe(e);
      continue;
    }
    const diff = Math.abs(Number(a) - e);
    if (!(diff <= tol.atol + tol.rtol * Math.abs(e))) {
      expect.fail(`${expected.name}[${i}]: got ${a}, expected ${e} (atol ${tol.atol}, rtol ${tol.rtol})`);
    }
  }
}
