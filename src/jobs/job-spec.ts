import { isAbsolute, normalize, resolve, sep } from 'node:path';
import { invalid } from '../protocol/errors.js';
import type { BatchJobSpec } from './batch-job.js';
import type { InputFormat } from './input.js';
import type { OutputFormat } from './output.js';
import type { ColumnMapping } from './row-mapping.js';

const KEYS = ['model', 'version', 'input', 'output', 'input_format', 'output_format', 'id_column', 'columns', 'errors', 'max_errors', 'rows_per_request', 'share'];

/** A path inside the jobs folder: relative, and not leaving it. */
function insideDir(dir: string, v: unknown, field: string): string {
  if (typeof v !== 'string' || v === '') throw invalid(`'${field}' must be a file path relative to the jobs folder`);
  if (isAbsolute(v) || normalize(v).split(/[\\/]/).includes('..')) throw invalid(`'${field}': '${v}' must stay inside the jobs folder (a relative path without '..')`);
  if (v.split(/[\\/]/).some((p) => p.startsWith('.'))) throw invalid(`'${field}': '${v}' may not name a hidden file or folder`);
  const full = resolve(dir, v);
  if (!full.startsWith(resolve(dir) + sep)) throw invalid(`'${field}': '${v}' must stay inside the jobs folder`);
  return full;
}

function optString(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw invalid(`'${k}' must be a non-empty string`);
  return v;
}

function optInt(o: Record<string, unknown>, k: string, min: number): number | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw invalid(`'${k}' must be an integer >= ${min}`);
  return v;
}

function oneOf<T extends string>(o: Record<string, unknown>, k: string, allowed: readonly T[]): T | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw invalid(`'${k}' must be one of ${allowed.join(', ')}`);
  return v as T;
}

function columnsOf(v: unknown): ColumnMapping | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`'columns' must map each input to a column or a list of columns`);
  for (const [k, c] of Object.entries(v)) {
    const ok = typeof c === 'string' || (Array.isArray(c) && c.length > 0 && c.every((x) => typeof x === 'string'));
    if (!ok) throw invalid(`'columns.${k}' must be a column name or a non-empty list of column names`);
  }
  return v as ColumnMapping;
}

function shareOf(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v > 0 && v <= 1)) throw invalid(`'share' must be a number > 0 and <= 1 (the share of the model's workers the job keeps while interactive requests wait)`);
  return v;
}

/** Validates a job spec posted to the jobs API (snake_case, as the API's other bodies); paths resolve inside `dir`. */
export function parseJobSpec(body: unknown, dir: string): BatchJobSpec {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('the job spec must be a JSON object');
  const o = body as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !KEYS.includes(k));
  if (unknown.length) throw invalid(`unknown field '${unknown[0]}' (allowed: ${KEYS.join(', ')})`);
  const model = optString(o, 'model');
  if (!model) throw invalid(`'model' is required`);
  const version = o.version === undefined ? undefined : typeof o.version === 'number' ? String(o.version) : optString(o, 'version');
  return {
    model,
    version,
    input: insideDir(dir, o.input, 'input'),
    output: insideDir(dir, o.output, 'output'),
    inputFormat: oneOf<InputFormat>(o, 'input_format', ['csv', 'jsonl', 'parquet']),
    outputFormat: oneOf<OutputFormat>(o, 'output_format', ['jsonl', 'csv', 'parquet']),
    idColumn: optString(o, 'id_column'),
    columns: columnsOf(o.columns),
    errors: o.errors === undefined ? undefined : insideDir(dir, o.errors, 'errors'),
    maxErrors: optInt(o, 'max_errors', 0),
    rowsPerRequest: optInt(o, 'rows_per_request', 1),
    share: shareOf(o.share),
  };
}
