import type { RowWrite } from './online-store.js';
import type { FeatureValue, FeatureViewDef } from './types.js';
import { coerceValue, entityKeyOf, joinKeyValue, parseTimestamp } from './values.js';

/** A value that does not fit its column: `where` names the file or field, row and column. */
export class RowError extends Error {
  constructor(readonly where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = 'RowError';
  }
}

/** Columnar input rows (a source file or a /push `df`), read by column name. */
export interface ColumnSource {
  rows: number;
  column(name: string): readonly unknown[];
  /** Names a cell in errors: `file row 12, column mean_radius` or `df.mean_radius[11]`. */
  cell(column: string, row: number): string;
}

/**
 * The latest row per entity key of one view among input rows whose event time lies in
 * [startMs, endMs): typed, keyed, and ready to write. A later input row wins a tie.
 */
export function latestRows(view: FeatureViewDef, src: ColumnSource, startMs = -Infinity, endMs = Infinity): RowWrite[] {
  const ts = src.column(view.source.timestampField);
  const keyCols = view.joinKeys.map((jk) => ({ jk, col: src.column(jk.name) }));
  const featCols = view.features.map((f) => ({ f, col: src.column(f.name) }));
  const latest = new Map<string, { at: number; eventTs: number }>();
  for (let i = 0; i < src.rows; i++) {
    const eventTs = parseTimestamp(ts[i]);
    if (eventTs === undefined) throw new RowError(src.cell(view.source.timestampField, i), `expected an ISO 8601 timestamp, got ${JSON.stringify(String(ts[i]))}`);
    if (eventTs < startMs || eventTs >= endMs) continue;
    const parts = keyCols.map(({ jk, col }) => {
      const raw = typeof col[i] === 'bigint' ? Number(col[i]) : col[i];
      const v = joinKeyValue(jk.dtype === 'Int64' && typeof raw === 'string' ? raw.trim() : raw, jk.dtype);
      if (v === undefined) throw new RowError(src.cell(jk.name, i), `join key expected ${jk.dtype === 'String' ? 'a string' : 'an integer'}, got ${JSON.stringify(String(col[i]))}`);
      return v;
    });
    const key = entityKeyOf(parts);
    const prev = latest.get(key);
    if (!prev || eventTs >= prev.eventTs) latest.set(key, { at: i, eventTs });
  }
  const out: RowWrite[] = [];
  for (const [entityKey, { at, eventTs }] of latest) {
    const values: Record<string, FeatureValue> = {};
    for (const { f, col } of featCols) {
      const v = coerceValue(col[at], f.dtype);
      if (v === undefined) throw new RowError(src.cell(f.name, at), `expected ${f.dtype}, got ${JSON.stringify(String(col[at]))}`);
      values[f.name] = v;
    }
    out.push({ entityKey, eventTs, values });
  }
  return out;
}
