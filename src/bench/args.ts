import { parseArgs } from 'node:util';
import { ConfigError } from '../config/validate.js';
import type { BenchOptions, HttpFormat, LoadMode, Protocol } from './types.js';

export const BENCH_DEFAULTS = {
  protocol: 'http' as Protocol,
  httpFormat: 'binary' as HttpFormat,
  concurrencyRange: '1',
  measurementIntervalMs: 5000,
  stabilityPercentage: 10,
  maxTrials: 10,
  batchSize: 1,
};

export const BENCH_HELP = `Usage: infergate bench -m MODEL [options]

Measures latency and throughput of an Open Inference Protocol v2 server (infergate,
Triton, KServe, MLServer, ...), like Triton's perf_analyzer: it sweeps a range of load
levels, measures each until it is stable, and reports client percentiles, throughput
and, where the server has the statistics extension, where the time went on the server.

Target:
  -m, --model NAME                model to benchmark (required)
  -x, --model-version V           model version (default: the server's choice)
  -u, --url HOST:PORT             server address (default: 127.0.0.1:8000 for http, 127.0.0.1:8001 for grpc)
  -i, --protocol http|grpc        protocol (default: ${BENCH_DEFAULTS.protocol})
      --http-format json|binary   HTTP body: JSON, or Triton's binary tensor extension
                                  (default: ${BENCH_DEFAULTS.httpFormat}; gRPC always sends raw_input_contents)

Load (one of):
      --concurrency-range S:E:ST  closed loop: S..E requests in flight, step ST (default: ${BENCH_DEFAULTS.concurrencyRange})
      --request-rate-range S:E:ST open loop: S..E requests/s sent on a fixed schedule whatever the
                                  server does; latency counts from the scheduled send time, so a
                                  slow server cannot hide its queue (no coordinated omission)

Measurement:
  -p, --measurement-interval MS   length of one measurement window (default: ${BENCH_DEFAULTS.measurementIntervalMs})
  -s, --stability-percentage PCT  a level is stable when 3 consecutive windows agree within PCT% on
                                  throughput and p99 (default: ${BENCH_DEFAULTS.stabilityPercentage})
  -r, --max-trials N              windows per level before giving up on stability (default: ${BENCH_DEFAULTS.maxTrials})
  -l, --latency-threshold MS      p99 SLO: stop the sweep at the first level over it and report the
                                  highest throughput that met it (default: none)

Input data:
      --input-data FILE           JSON file of OIP v2 requests: {"inputs":[...]}, an array of them, or
                                  golden.json ({"cases":[{"request":{...}}]}); sent round-robin.
                                  Default: random data shaped from the model's metadata
      --shape NAME:D1,D2          concrete dims for an input's variable (-1) dims, without the batch
                                  dim (repeatable)
  -b, --batch-size N              rows per request: fills the batch dim (default: ${BENCH_DEFAULTS.batchSize})

Output (the table always goes to stdout, progress to stderr):
  -f, --csv FILE                  also write the results as CSV
      --json FILE                 also write the full report as JSON
      --html FILE                 also write a self-contained HTML report with charts (opens offline)
  -h, --help                      show this help

Examples:
  infergate bench -m simple --url 127.0.0.1:8000 --concurrency-range 1:8:1
  infergate bench -m simple -i grpc --url 127.0.0.1:8001 --concurrency-range 1:16:4 -l 20
  infergate bench -m text_encoder --shape input_ids:32 -b 8 --request-rate-range 100:1000:100 --html report.html
  infergate bench -m simple --input-data models/simple/1/golden.json --http-format json -f out.csv
`;

/** Parses perf_analyzer's "start[:end[:step]]" into the list of levels it names. */
export function parseRange(text: string, flag: string, opts: { integer: boolean }): number[] {
  const parts = text.split(':');
  if (parts.length < 1 || parts.length > 3 || parts.some((p) => p.trim() === '')) {
    throw new ConfigError(`--${flag} '${text}' must be START, START:END or START:END:STEP`);
  }
  const [start, end = start, step = 1] = parts.map(Number);
  for (const [name, v] of [['start', start], ['end', end], ['step', step]] as const) {
    if (!Number.isFinite(v) || v <= 0 || (opts.integer && !Number.isInteger(v))) {
      throw new ConfigError(`--${flag} '${text}': ${name} must be a positive ${opts.integer ? 'integer' : 'number'}`);
    }
  }
  if (end < start) throw new ConfigError(`--${flag} '${text}': end (${end}) is below start (${start})`);
  const levels: number[] = [];
  // Counting steps (not adding floats) keeps fractional rates exact enough to hit the end.
  for (let i = 0; ; i++) {
    const v = start + i * step;
    if (v > end + 1e-9) break;
    levels.push(opts.integer ? v : Number(v.toFixed(6)));
    if (levels.length > 10_000) throw new ConfigError(`--${flag} '${text}' names over 10000 levels; use a larger step`);
  }
  return levels;
}

/** Parses "NAME:D1,D2" into a name and its dims. */
export function parseShapeFlag(text: string): [string, number[]] {
  const at = text.lastIndexOf(':');
  const name = text.slice(0, at);
  const dims = text.slice(at + 1).split(',').map(Number);
  if (at <= 0 || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new ConfigError(`--shape '${text}' must be NAME:D1,D2,... with positive integer dims (e.g. input_ids:32)`);
  }
  return [name, dims];
}

function positive(value: string | undefined, flag: string, fallback: number, integer = true): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new ConfigError(`--${flag} '${value}' must be a positive ${integer ? 'integer' : 'number'}`);
  }
  return n;
}

function oneOf<T extends string>(value: string | undefined, flag: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new ConfigError(`--${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}

/** Parses bench's command line; returns 'help' for -h. Throws ConfigError on bad flags. */
export function parseBenchArgs(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    strict: true,
    options: {
      model: { type: 'string', short: 'm' },
      'model-version': { type: 'string', short: 'x' },
      url: { type: 'string', short: 'u' },
      protocol: { type: 'string', short: 'i' },
      'http-format': { type: 'string' },
      'concurrency-range': { type: 'string' },
      'request-rate-range': { type: 'string' },
      'measurement-interval': { type: 'string', short: 'p' },
      'stability-percentage': { type: 'string', short: 's' },
      'max-trials': { type: 'string', short: 'r' },
      'latency-threshold': { type: 'string', short: 'l' },
      'input-data': { type: 'string' },
      shape: { type: 'string', multiple: true },
      'batch-size': { type: 'string', short: 'b' },
      csv: { type: 'string', short: 'f' },
      json: { type: 'string' },
      html: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (!values.model) throw new ConfigError(`bench needs a model: -m MODEL`);
  const protocol = oneOf(values.protocol, 'protocol', ['http', 'grpc'] as const, BENCH_DEFAULTS.protocol);
  if (values['concurrency-range'] !== undefined && values['request-rate-range'] !== undefined) {
    throw new ConfigError(`give either --concurrency-range or --request-rate-range, not both`);
  }
  const mode: LoadMode = values['request-rate-range'] !== undefined ? 'request-rate' : 'concurrency';
  const levels = mode === 'request-rate'
    ? parseRange(values['request-rate-range']!, 'request-rate-range', { integer: false })
    : parseRange(values['concurrency-range'] ?? BENCH_DEFAULTS.concurrencyRange, 'concurrency-range', { integer: true });
  const shapes: Record<string, number[]> = {};
  for (const s of values.shape ?? []) {
    const [name, dims] = parseShapeFlag(s);
    shapes[name] = dims;
  }
  const maxTrials = positive(values['max-trials'], 'max-trials', BENCH_DEFAULTS.maxTrials);
  if (maxTrials < 3) throw new ConfigError(`--max-trials must be at least 3: stability needs 3 windows`);
  return {
    model: values.model,
    version: values['model-version'] ?? '',
    url: values.url ?? `127.0.0.1:${protocol === 'grpc' ? 8001 : 8000}`,
    protocol,
    httpFormat: oneOf(values['http-format'], 'http-format', ['json', 'binary'] as const, BENCH_DEFAULTS.httpFormat),
    mode,
    levels,
    measurementIntervalMs: positive(values['measurement-interval'], 'measurement-interval', BENCH_DEFAULTS.measurementIntervalMs),
    stabilityPercentage: positive(values['stability-percentage'], 'stability-percentage', BENCH_DEFAULTS.stabilityPercentage, false),
    maxTrials,
    latencyThresholdMs: values['latency-threshold'] === undefined ? undefined : positive(values['latency-threshold'], 'latency-threshold', 0, false),
    inputDataFile: values['input-data'],
    shapes,
    batchSize: positive(values['batch-size'], 'batch-size', BENCH_DEFAULTS.batchSize),
    csvFile: values.csv,
    jsonFile: values.json,
    htmlFile: values.html,
  };
}
