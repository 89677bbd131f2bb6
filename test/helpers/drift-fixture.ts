import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';

/** Figures computed by test/fixtures/drift/make_reference.py with Debian's scipy. */
export interface FixtureFeature {
  name: string;
  kind: 'numerical' | 'categorical';
  stattest: string;
  statistic: number | string | null;
  p_value: number | null;
  threshold: number;
  drift_detected: boolean;
}
export interface FixtureScenario {
  reference_rows: number;
  window_rows: number;
  drift_share: number;
  share_of_drifted_features: number;
  dataset_drift: boolean;
  features: FixtureFeature[];
}

const FIXTURE = resolve(import.meta.dirname, '../fixtures/drift/expected.json');

export const driftFixture: any = JSON.parse(readFileSync(FIXTURE, 'utf8'));

/** JSON can't hold infinities: the fixture writes them as strings. */
export function num(v: number | string | null): number {
  if (v === null) return NaN;
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  return v as number;
}

/** Asserts a value equals the fixture's to 1e-6 relative (exactly for 0, infinities and NaN). */
export function expectClose(actual: number | null, expected: number | string | null, what: string): void {
  const e = num(expected);
  if (expected === null) {
    expect(actual, what).toBeNull();
    return;
  }
  expect(actual, what).not.toBeNull();
  const a = actual as number;
  if (!Number.isFinite(e) || e === 0) {
    expect(a, what).toBe(e);
    return;
  }
  const rel = Math.abs(a - e) / Math.abs(e);
  expect(rel, `${what}: got ${a}, scipy ${e}`).toBeLessThanOrEqual(1e-6);
}

/**
 * The shared data folder (../shared/data/DATA.md): $INFERGATE_DATA, else ../shared/data or
 * ../../shared/data relative to the repository (a worktree one level deeper).
 */
export function dataDir(): string | undefined {
  const repo = resolve(import.meta.dirname, '../..');
  const candidates = process.env.INFERGATE_DATA ? [process.env.INFERGATE_DATA] : [join(repo, '../shared/data'), join(repo, '../../shared/data')];
  return candidates.find((c) => existsSync(join(c, 'DATA.md')));
}

/** Why data-driven tests skip, or undefined when the data is there. */
export const DATA_MISSING = dataDir() ? undefined : 'the shared data folder (../shared/data with DATA.md) was not found; set INFERGATE_DATA';

/** Reads one of the shared CSV files as a header and rows of cells. */
export function readDataCsv(file: string): { header: string[]; rows: string[][] } {
  const text = readFileSync(join(dataDir()!, file), 'utf8').trim();
  const [head, ...lines] = text.split('\n');
  return { header: head.split(','), rows: lines.map((l) => l.split(',')) };
}

/** A /drift answer against the fixture scenario scipy computed for the same rows. */
export function expectScenario(body: any, s: FixtureScenario, what: string): void {
  expect(body.reference_rows, what).toBe(s.reference_rows);
  expect(body.window_rows, what).toBe(s.window_rows);
  expect(body.dataset_drift, what).toBe(s.dataset_drift);
  expect(body.drift_share, what).toBe(s.drift_share);
  expect(body.share_of_drifted_features, what).toBeCloseTo(s.share_of_drifted_features, 12);
  expect(body.features.map((f: any) => f.name), what).toEqual(s.features.map((f) => f.name));
  s.features.forEach((e, i) => {
    const f = body.features[i];
    const w = `${what} ${e.name}`;
    expect({ kind: f.kind, stattest: f.stattest, threshold: f.threshold, drift: f.drift_detected }, w)
      .toEqual({ kind: e.kind, stattest: e.stattest, threshold: e.threshold, drift: e.drift_detected });
    expectClose(f.statistic, e.statistic, `${w} statistic`);
    expectClose(f.p_value, e.p_value, `${w} p_value`);
  });
}

