import { invalidParam } from '../registry/errors.js';

/** One analysis check; each run evaluates every check on the interval's figures. */
export type AnalysisCheck =
  | { metric: 'error_rate'; max: number }
  | { metric: 'latency_p99'; maxRatio: number }
  | { metric: 'disagreement'; max: number }
  | { metric: 'accuracy'; minRatio: number }
  | { metric: 'dataset_drift'; equals: boolean };

export type Strategy = 'canary' | 'ab' | 'shadow';

/** A validated rollout spec (the wire form uses snake_case: min_requests, failure_limit...). */
export interface RolloutSpec {
  model: string;
  /** Alias or version number of what serves now. */
  baseline: string;
  /** Version number (or alias) of the new version. */
  candidate: string;
  strategy: Strategy;
  /** Candidate weights (percent, increasing, each below 100) analysed in turn; promotion follows the last. */
  steps: number[];
  intervalMs: number;
  minRequests: number;
  failureLimit: number;
  analysis: AnalysisCheck[];
  mirrorPercent: number;
  match: { header: string; value: string }[];
  sticky: { parameter?: string; header?: string };
  webhook?: string;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HEADER = /^[a-z0-9!#$%&'*+.^_`|~-]{1,128}$/;
const KNOWN = new Set([
  'model', 'baseline', 'candidate', 'strategy', 'steps', 'step_weight', 'max_weight', 'interval', 'min_requests',
  'failure_limit', 'analysis', 'mirror_percent', 'match', 'sticky', 'webhook',
]);

const bad = (field: string, why: string) => invalidParam(`rollout spec: field '${field}' ${why}`);

function str(o: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) {
    if (required) throw bad(field, 'is required');
    return undefined;
  }
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  if (typeof v !== 'string' || v === '') throw bad(field, `must be a non-empty string, got ${JSON.stringify(v)}`);
  if (v.length > 256) throw bad(field, 'is longer than 256 characters');
  return v;
}

function num(o: Record<string, unknown>, field: string, def: number, min: number, max: number, integer = true): number {
  const v = o[field];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw bad(field, `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Parses `30s`, `500ms`, `2m` or a number of seconds into milliseconds. */
export function parseInterval(v: unknown, field = 'interval'): number {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return Math.round(v * 1000);
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v.trim()) : null;
  if (!m) throw bad(field, `must be a duration such as 30s, 500ms or 2m, got ${JSON.stringify(v)}`);
  const ms = Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  if (ms < 100 || ms > 24 * 3_600_000) throw bad(field, `must be from 100ms to 24h, got ${v}`);
  return Math.round(ms);
}

function steps(o: Record<string, unknown>, strategy: Strategy): number[] {
  if (o.steps !== undefined && (o.step_weight !== undefined || o.max_weight !== undefined)) {
    throw bad('steps', 'cannot be given together with step_weight/max_weight');
  }
  if (o.step_weight !== undefined || o.max_weight !== undefined) {
    const step = num(o, 'step_weight', NaN, 1, 99);
    if (Number.isNaN(step)) throw bad('step_weight', 'is required with max_weight');
    const max = num(o, 'max_weight', 50, step, 100);
    const out: number[] = [];
    for (let w = step; w <= max && w < 100; w += step) out.push(w);
    return out;
  }
  if (o.steps === undefined) {
    if (strategy === 'canary') throw bad('steps', 'is required for a canary (or step_weight and max_weight)');
    return [];
  }
  if (!Array.isArray(o.steps) || o.steps.length > 100) throw bad('steps', 'must be a list of at most 100 weights (percent)');
  const out: number[] = [];
  o.steps.forEach((w, i) => {
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 1 || w > 100) throw bad(`steps[${i}]`, `must be an integer from 1 to 100, got ${JSON.stringify(w)}`);
    if (out.length && w <= out[out.length - 1]) throw bad(`steps[${i}]`, `must be larger than the step before it (${out[out.length - 1]})`);
    if (w === 100 && i !== (o.steps as unknown[]).length - 1) throw bad(`steps[${i}]`, '100 (promotion) must be the last step');
    if (w < 100) out.push(w);
  });
  if (out.length === 0 && strategy === 'canary') throw bad('steps', 'needs at least one weight below 100 to analyse before promotion');
  return out;
}

function analysis(v: unknown): AnalysisCheck[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > 20) throw bad('analysis', 'must be a list of at most 20 checks');
  return v.map((c, i): AnalysisCheck => {
    const f = `analysis[${i}]`;
    if (typeof c !== 'object' || c === null || Array.isArray(c)) throw bad(f, 'must be an object such as {metric: error_rate, max: 1}');
    const o = c as Record<string, unknown>;
    const bound = (key: string, max: number) => {
      const x = o[key];
      if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > max) throw bad(`${f}.${key}`, `must be a number from 0 to ${max}, got ${JSON.stringify(x)}`);
      return x;
    };
    switch (o.metric) {
      case 'error_rate':
        return { metric: 'error_rate', max: bound('max', 100) };
      case 'disagreement':
        return { metric: 'disagreement', max: bound('max', 100) };
      case 'latency_p99':
        return { metric: 'latency_p99', maxRatio: bound('max_ratio', 1000) };
      case 'accuracy':
        return { metric: 'accuracy', minRatio: bound('min_ratio', 1000) };
      case 'dataset_drift':
        if (typeof o.equals !== 'boolean') throw bad(`${f}.equals`, `must be true or false, got ${JSON.stringify(o.equals)}`);
        return { metric: 'dataset_drift', equals: o.equals };
      default:
        throw bad(`${f}.metric`, `must be one of error_rate, latency_p99, disagreement, accuracy, dataset_drift; got ${JSON.stringify(o.metric)}`);
    }
  });
}

/** Validates a rollout spec as posted (JSON of the YAML in the docs); errors name the field. */
export function parseRolloutSpec(input: unknown): RolloutSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalidParam('rollout spec must be an object');
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw bad(k, `is not a rollout field (known: ${[...KNOWN].join(', ')})`);
  const model = str(o, 'model', true)!;
  if (!NAME.test(model)) throw bad('model', `is not a model name: '${model}'`);
  const baseline = str(o, 'baseline', true)!;
  const candidate = str(o, 'candidate', true)!;
  for (const [f, v] of [['baseline', baseline], ['candidate', candidate]] as const) {
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(v)) throw bad(f, `must be a version number or an alias, got '${v}'`);
  }
  const strategy = (str(o, 'strategy', false) ?? 'canary') as Strategy;
  if (!['canary', 'ab', 'shadow'].includes(strategy)) throw bad('strategy', `must be canary, ab or shadow, got '${strategy}'`);
  const match = o.match === undefined ? [] : o.match;
  if (!Array.isArray(match) || match.length > 20) throw bad('match', 'must be a list of at most 20 {header, value}');
  const matches = match.map((m, i) => {
    const mo = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>;
    const header = str(mo, 'header', true)!.toLowerCase();
    if (!HEADER.test(header)) throw bad(`match[${i}].header`, `is not a header name: '${header}'`);
    const value = mo.value;
    if (typeof value !== 'string' || value.length > 256) throw bad(`match[${i}].value`, 'must be a string of at most 256 characters');
    return { header, value };
  });
  if (strategy === 'ab' && matches.length === 0) throw bad('match', 'is required for strategy ab');
  const stickyIn = o.sticky === undefined ? { parameter: 'routing_key', header: 'x-routing-key' } : o.sticky;
  if (typeof stickyIn !== 'object' || stickyIn === null || Array.isArray(stickyIn)) throw bad('sticky', 'must be {parameter, header}');
  const so = stickyIn as Record<string, unknown>;
  const sticky = { parameter: str(so, 'parameter', false), header: str(so, 'header', false)?.toLowerCase() };
  if (sticky.parameter && sticky.parameter !== 'routing_key') throw bad('sticky.parameter', `must be routing_key (the request parameter the dataplane reads), got '${sticky.parameter}'`);
  if (sticky.header && !HEADER.test(sticky.header)) throw bad('sticky.header', `is not a header name: '${sticky.header}'`);
  const webhook = str(o, 'webhook', false);
  if (webhook && !/^https?:\/\//.test(webhook)) throw bad('webhook', `must be an http(s) URL, got '${webhook}'`);
  return {
    model,
    baseline,
    candidate,
    strategy,
    steps: strategy === 'shadow' ? [] : steps(o, strategy),
    intervalMs: o.interval === undefined ? 30_000 : parseInterval(o.interval),
    minRequests: num(o, 'min_requests', 100, 0, 1_000_000),
    failureLimit: num(o, 'failure_limit', 2, 1, 1000),
    analysis: analysis(o.analysis),
    mirrorPercent: num(o, 'mirror_percent', strategy === 'shadow' ? 100 : 0, 0, 100, false),
    match: matches,
    sticky,
    ...(webhook ? { webhook } : {}),
  };
}

/** The spec in its wire form (as posted, snake_case). */
export function specJson(s: RolloutSpec): Record<string, unknown> {
  return {
    model: s.model,
    baseline: s.baseline,
    candidate: s.candidate,
    strategy: s.strategy,
    steps: s.steps,
    interval: `${s.intervalMs}ms`,
    min_requests: s.minRequests,
    failure_limit: s.failureLimit,
    analysis: s.analysis.map((c) =>
      c.metric === 'latency_p99' ? { metric: c.metric, max_ratio: c.maxRatio } : c.metric === 'accuracy' ? { metric: c.metric, min_ratio: c.minRatio } : c),
    mirror_percent: s.mirrorPercent,
    match: s.match,
    sticky: s.sticky,
    ...(s.webhook ? { webhook: s.webhook } : {}),
  };
}
