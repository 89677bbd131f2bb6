import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * The shared data folder (../shared/data/DATA.md): $INFERGATE_DATA (or $INFERGATE_SHARED_DATA),
 * else ../shared/data or ../../shared/data from the repository root (a worktree one level deeper).
 */
export function dataDir(): string | undefined {
  const env = process.env.INFERGATE_DATA ?? process.env.INFERGATE_SHARED_DATA;
  const candidates = env ? [env] : [join(ROOT, '../shared/data'), join(ROOT, '../../shared/data')];
  return candidates.find((d) => existsSync(join(d, 'breast_cancer_live_nodrift.csv')));
}

export const DATA_MISSING = dataDir() ? undefined : 'the shared data folder (../shared/data with breast_cancer_live_nodrift.csv) was not found; set INFERGATE_DATA';

/** The held-out breast-cancer rows: header and lines (patient_id, event_timestamp, 30 features, label). */
export function breastCancerRows(): { header: string[]; rows: string[][] } {
  const text = readFileSync(join(dataDir()!, 'breast_cancer_live_nodrift.csv'), 'utf8').trim().split('\n');
  return { header: text[0].split(','), rows: text.slice(1).map((l) => l.split(',')) };
}

/** The 30 feature columns, in the model's input order. */
export function featureColumns(): string[] {
  return breastCancerRows().header.slice(2, 32);
}

/** Row id of the n-th generated row (0-based): sorts like the row order. */
export function rowId(n: number): string {
  return `r${String(n).padStart(7, '0')}`;
}

/**
 * Writes a CSV of `n` rows: an `id` column, then the live rows repeated in order (their
 * patient_id and features). Returns the feature values of each distinct source row.
 */
export function writeRowsCsv(path: string, n: number): { features: (i: number) => number[] } {
  const { header, rows } = breastCancerRows();
  const parts: string[] = [`id,${header.slice(0, 32).join(',')}\n`];
  for (let i = 0; i < n; i++) parts.push(`${rowId(i)},${rows[i % rows.length].slice(0, 32).join(',')}\n`);
  writeFileSync(path, parts.join(''));
  return { features: (i) => rows[i % rows.length].slice(2, 32).map(Number) };
}

/** Reads a JSONL file into objects. */
export function readJsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A name no other test run uses (for streams, subjects, keys). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
}

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** Polls `check` until it returns a value other than undefined, or fails after `ms`. */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, ms: number, what: string): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
