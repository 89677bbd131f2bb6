import type { FeatureStore } from './feature-store.js';
import { type ColumnSource, RowError, latestRows } from './rows.js';
import { readSource } from './sources.js';
import type { FeatureViewDef } from './types.js';

/** Rows written per store call (and per progress report). */
const CHUNK = 500;

export interface MaterializeProgress {
  view: string;
  startMs: number;
  endMs: number;
  done: number;
  total: number;
}

export interface MaterializeResult {
  view: string;
  startMs: number;
  endMs: number;
  /** Latest rows per entity key in the window, written (the store keeps the newer of two). */
  rows: number;
}

/** A source that cannot be read or holds a value its schema does not allow. */
export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

/** The views a request names (all when none), or the unknown name. */
export function selectViews(fs: FeatureStore, names: readonly string[] | undefined): FeatureViewDef[] | string {
  if (!names || names.length === 0) return [...fs.def.featureViews.values()];
  const out: FeatureViewDef[] = [];
  for (const n of names) {
    const v = fs.def.featureViews.get(n);
    if (!v) return n;
    out.push(v);
  }
  return out;
}

/**
 * Feast's materialize: for each view, the latest row per entity key with an event time in
 * [start, end) from its source into the online store; the view's watermark moves to end.
 * Re-running is idempotent (an older row never replaces a newer one).
 */
export async function materialize(
  fs: FeatureStore, views: readonly FeatureViewDef[], startMs: number | ((v: FeatureViewDef) => Promise<number>), endMs: number,
  onProgress?: (p: MaterializeProgress) => void,
): Promise<MaterializeResult[]> {
  const results: MaterializeResult[] = [];
  for (const view of views) {
    const start = typeof startMs === 'number' ? startMs : await startMs(view);
    let table;
    try {
      table = await readSource(view.source);
    } catch (err) {
      throw new SourceError(`feature view '${view.name}': ${(err as Error).message}`);
    }
    const src: ColumnSource = { rows: table.rows, column: (c) => table.column(c), cell: (c, i) => `${view.source.path} data row ${i + 1}, column ${c}` };
    let rows;
    try {
      rows = latestRows(view, src, start, endMs);
    } catch (err) {
      if (err instanceof RowError) throw new SourceError(`feature view '${view.name}': ${err.message}`);
      throw new SourceError(`feature view '${view.name}': ${(err as Error).message}`);
    }
    onProgress?.({ view: view.name, startMs: start, endMs, done: 0, total: rows.length });
    const joinKeys = view.joinKeys.map((j) => j.name);
    for (let i = 0; i < rows.length; i += CHUNK) {
      const chunk = rows.slice(i, i + CHUNK);
      await fs.cached.write(view.name, joinKeys, chunk);
      fs.metrics.rowsMaterialized.inc({ view: view.name }, chunk.length);
      onProgress?.({ view: view.name, startMs: start, endMs, done: i + chunk.length, total: rows.length });
    }
    const before = await fs.store.materializedUntil(view.name);
    const until = Math.max(before ?? -Infinity, endMs);
    await fs.store.setMaterializedUntil(view.name, until);
    fs.metrics.lastMaterialized.set({ view: view.name }, until / 1000);
    results.push({ view: view.name, startMs: start, endMs, rows: rows.length });
  }
  return results;
}

/**
 * Feast's materialize-incremental: from each view's last materialized end (or, the first
 * time, now minus its ttl; the beginning of time when it has none) to end.
 */
export function materializeIncremental(
  fs: FeatureStore, views: readonly FeatureViewDef[], endMs: number, onProgress?: (p: MaterializeProgress) => void, nowMs = Date.now(),
): Promise<MaterializeResult[]> {
  return materialize(fs, views, async (v) => (await fs.store.materializedUntil(v.name)) ?? (v.ttlSeconds > 0 ? nowMs - v.ttlSeconds * 1000 : 0), endMs, onProgress);
}
