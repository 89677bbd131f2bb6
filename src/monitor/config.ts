import { ConfigError, type Obj, int, isObj, obj, onlyKeys, str } from '../config/validate.js';
import { STAT_TESTS, type StatTestName } from './stats/tests.js';

/**
 * The `monitoring` block of a model's config.yaml. Only `reference` is required; every other
 * key has a default. Errors name the key (`monitoring.window_size: ...`).
 */

export type SkewMode = 'off' | 'count' | 'warn' | 'reject';
export const SKEW_MODES: readonly SkewMode[] = ['off', 'count', 'warn', 'reject'];
export type Task = 'classification' | 'regression';

export interface ColumnOverride {
  stattest?: StatTestName;
  threshold?: number;
}

export interface WebhookConfig {
  url: string;
  /** Per attempt. */
  timeoutMs: number;
  /** Further attempts after the first fails (network error, timeout or a non-2xx answer). */
  retries: number;
  /** Wait before the first retry; doubles each time. */
  backoffMs: number;
}

export interface MonitoringConfig {
  /** CSV with a header, relative to the model folder or absolute. */
  reference: string;
  /** Input name -> one reference column per position of its last axis; undefined: the default names. */
  columns: Record<string, string[]> | undefined;
  windowSize: number;
  sampleRate: number;
  driftShare: number;
  prediction: { output: string | undefined; task: Task };
  perColumn: Record<string, ColumnOverride>;
  skew: SkewMode;
  /** out_of_range widens the reference's [min, max] by this fraction of its width on each side. */
  skewMargin: number;
  webhook: WebhookConfig | undefined;
  /** How often drift is recomputed in the background when a webhook listens; 0 = only when asked (GET .../drift). */
  checkIntervalSeconds: number;
  feedback: { maxRows: number; maxAgeSeconds: number };
}

const KEYS = [
  'reference', 'columns', 'window_size', 'sample_rate', 'drift_share', 'prediction', 'per_column',
  'skew', 'skew_margin', 'webhook', 'check_interval_seconds', 'feedback',
] as const;

/** Largest live window: rows x features x 8 bytes must stay small beside the models. */
export const MAX_WINDOW_SIZE = 100_000;
export const MAX_FEEDBACK_ROWS = 1_000_000;

function num(v: unknown, where: string, dflt: number, min: number, max: number, minOpen = false): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || (minOpen ? v <= min : v < min) || v > max) {
    const range = `${minOpen ? '>' : '>='} ${min} and <= ${max}`;
    throw new ConfigError(`${where}: must be a number ${range}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function name(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${where}: must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function parseColumns(v: unknown): Record<string, string[]> | undefined {
  if (v === undefined) return undefined;
  const where = 'monitoring.columns';
  if (!isObj(v)) throw new ConfigError(`${where}: must map each input to its list of reference columns, e.g. {features: [a, b]}`);
  const out: Record<string, string[]> = {};
  for (const [input, list] of Object.entries(v)) {
    const w = `${where}.${input}`;
    const names = typeof list === 'string' ? [list] : list;
    if (!Array.isArray(names) || names.length === 0) throw new ConfigError(`${w}: must be a non-empty list of reference column names`);
    out[input] = names.map((c, i) => name(c, `${w}[${i}]`));
  }
  if (Object.keys(out).length === 0) throw new ConfigError(`${where}: names no input`);
  return out;
}

function parsePerColumn(v: unknown): Record<string, ColumnOverride> {
  const where = 'monitoring.per_column';
  const o = obj(v, where);
  const out: Record<string, ColumnOverride> = {};
  const names = Object.keys(STAT_TESTS) as StatTestName[];
  for (const [col, spec] of Object.entries(o)) {
    const w = `${where}.${col}`;
    const s = obj(spec, w);
    onlyKeys(s, ['stattest', 'threshold'], w);
    const ov: ColumnOverride = {};
    if (s.stattest !== undefined) ov.stattest = str(s.stattest, `${w}.stattest`, names, 'ks');
    if (s.threshold !== undefined) ov.threshold = num(s.threshold, `${w}.threshold`, 0, 0, Number.MAX_VALUE);
    out[col] = ov;
  }
  return out;
}

function parseWebhook(v: unknown): WebhookConfig | undefined {
  if (v === undefined || v === null) return undefined;
  const where = 'monitoring.webhook';
  const o: Obj = typeof v === 'string' ? { url: v } : obj(v, where);
  onlyKeys(o, ['url', 'timeout_seconds', 'retries', 'backoff_seconds'], where);
  const urlWhere = typeof v === 'string' ? where : `${where}.url`;
  const raw = name(o.url, urlWhere);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${urlWhere}: '${raw}' is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${urlWhere}: must be an http:// or https:// URL, got '${raw}'`);
  return {
    url: url.toString(),
    timeoutMs: num(o.timeout_seconds, `${where}.timeout_seconds`, 5, 0, 300, true) * 1000,
    retries: int(o.retries, `${where}.retries`, 3, 0),
    backoffMs: num(o.backoff_seconds, `${where}.backoff_seconds`, 0.5, 0, 3600) * 1000,
  };
}

/** Validates the raw `monitoring` block (ModelConfig.extensions.monitoring). */
export function parseMonitoringConfig(raw: unknown): MonitoringConfig {
  const where = 'monitoring';
  if (!isObj(raw)) throw new ConfigError(`${where}: must be a mapping with at least 'reference: <csv file>'`);
  onlyKeys(raw, KEYS, where);
  if (raw.reference === undefined) throw new ConfigError(`${where}.reference: required: the CSV of reference rows (relative to the model folder)`);
  const prediction = obj(raw.prediction, `${where}.prediction`);
  onlyKeys(prediction, ['output', 'task'], `${where}.prediction`);
  const feedback = obj(raw.feedback, `${where}.feedback`);
  onlyKeys(feedback, ['max_rows', 'max_age_seconds'], `${where}.feedback`);
  const windowSize = int(raw.window_size, `${where}.window_size`, 1000, 1);
  if (windowSize > MAX_WINDOW_SIZE) throw new ConfigError(`${where}.window_size: at most ${MAX_WINDOW_SIZE}, got ${windowSize}`);
  const maxRows = int(feedback.max_rows, `${where}.feedback.max_rows`, 10_000, 1);
  if (maxRows > MAX_FEEDBACK_ROWS) throw new ConfigError(`${where}.feedback.max_rows: at most ${MAX_FEEDBACK_ROWS}, got ${maxRows}`);
  return {
    reference: name(raw.reference, `${where}.reference`),
    columns: parseColumns(raw.columns),
    windowSize,
    sampleRate: num(raw.sample_rate, `${where}.sample_rate`, 1, 0, 1),
    driftShare: num(raw.drift_share, `${where}.drift_share`, 0.5, 0, 1, true),
    prediction: {
      output: prediction.output === undefined ? undefined : name(prediction.output, `${where}.prediction.output`),
      task: str(prediction.task, `${where}.prediction.task`, ['classification', 'regression'] as const, 'classification'),
    },
    perColumn: parsePerColumn(raw.per_column),
    skew: str(raw.skew, `${where}.skew`, SKEW_MODES, 'count'),
    skewMargin: num(raw.skew_margin, `${where}.skew_margin`, 0.1, 0, 1000),
    webhook: parseWebhook(raw.webhook),
    checkIntervalSeconds: num(raw.check_interval_seconds, `${where}.check_interval_seconds`, 30, 0, 86400),
    feedback: { maxRows, maxAgeSeconds: num(feedback.max_age_seconds, `${where}.feedback.max_age_seconds`, 86400, 0, 365 * 86400, true) },
  };
}
