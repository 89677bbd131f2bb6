import { parseArgs } from 'node:util';
import { loadServerConfig } from '../config/server-config.js';
import { ConfigError } from '../config/validate.js';
import { Gateway } from '../gateway.js';
import { type BatchJobSpec, BatchJob, JobError, errorsPath } from '../jobs/batch-job.js';
import { HttpInferrer, InProcessInferrer, type RowInferrer } from '../jobs/inferrer.js';
import type { InputFormat } from '../jobs/input.js';
import type { OutputFormat } from '../jobs/output.js';
import { ProgressBar } from '../jobs/progress.js';
import type { ColumnMapping } from '../jobs/row-mapping.js';
import { installCapabilities } from './serve.js';

export const BATCH_HELP = `Usage: infergate batch -m MODEL [-v VERSION|ALIAS] --input FILE --output FILE [options]

Scores a whole file with a model: one output row per input row, in input order, through the
model's batcher in requests of many rows. Checkpoints as it goes; after a crash or Ctrl-C,
run the same command with --resume and it goes on where it stopped (every row exactly once).

Input: CSV (with a header), JSONL (one row object, or one OIP v2 request, per line) or Parquet.
Output: JSONL ({"id": ..., "<output>": [...]} per row), CSV (id, then <output>_0, <output>_1, ...)
or Parquet (the CSV layout). Formats follow the file names (.csv, .jsonl, .parquet) unless given.

Options:
  -m, --model NAME              model to run (required)
  -v, --version V               version number or alias (default: the model's default version)
  --input FILE                  input file (required)
  --output FILE                 output file (required)
  --input-format F              csv | jsonl | parquet
  --output-format F             jsonl | csv | parquet
  --id-column NAME              column that identifies a row (default id; rows are numbered when absent)
  --columns MAP                 inputs from columns: features=mean_radius,mean_texture,... (repeatable)
                                or JSON {"features": ["mean_radius", ...]}; default: the model's
                                monitoring.columns, else a column named like the input
  --errors FILE                 bad rows with line number and reason (default OUTPUT.errors.jsonl)
  --max-errors N                fail once more than N rows are bad (default: no limit)
  --rows-per-request N          rows per request (default: the model's max_batch_size)
  --resume                      continue from OUTPUT's checkpoint
  --overwrite                   start again, replacing OUTPUT
  --url URL                     send the rows to a running gateway (OIP v2 HTTP) instead of running
                                the model here
  --model-repository DIR        where the model is, when running here (default ./models)
  --pool-size N                 worker threads when running here (default: the number of cores)
  --checkpoint-every-ms N       longest time between checkpoints (default 500)
  --no-progress                 no progress bar on stderr
  -h, --help                    show this help

Examples:
  infergate batch -m tabular_mlp --input patients.csv --output scores.jsonl --id-column patient_id
  infergate batch -m tabular_mlp --input patients.csv --output scores.jsonl --id-column patient_id --resume
  infergate batch -m tabular_mlp --url http://127.0.0.1:8000 --input rows.parquet --output out.parquet
`;

/** Parses --columns values: `input=a,b,c` (repeatable; one name = one column holding the row's values) or a JSON object. */
export function parseColumnsFlag(values: string[]): ColumnMapping | undefined {
  if (values.length === 0) return undefined;
  const out: Record<string, string[] | string> = {};
  for (const v of values) {
    if (v.trim().startsWith('{')) {
      let o: unknown;
      try {
        o = JSON.parse(v);
      } catch (err) {
        throw new ConfigError(`--columns: not valid JSON: ${(err as Error).message}`);
      }
      if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ConfigError('--columns: JSON must be an object {input: [columns]}');
      Object.assign(out, o);
      continue;
    }
    const eq = v.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--columns: expected INPUT=COL1,COL2,... got '${v}'`);
    const cols = v.slice(eq + 1).split(',').map((s) => s.trim()).filter(Boolean);
    if (cols.length === 0) throw new ConfigError(`--columns: no columns for input '${v.slice(0, eq)}'`);
    out[v.slice(0, eq)] = cols.length === 1 && !v.endsWith(',') ? cols[0] : cols;
  }
  return out;
}

function intFlag(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new ConfigError(`--${name}: must be an integer >= ${min}, got '${v}'`);
  return Number(v);
}

/** `infergate batch`: one job, in this process or against a gateway, with a progress bar. */
export async function batch(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      model: { type: 'string', short: 'm' }, version: { type: 'string', short: 'v' },
      input: { type: 'string' }, output: { type: 'string' },
      'input-format': { type: 'string' }, 'output-format': { type: 'string' },
      'id-column': { type: 'string' }, columns: { type: 'string', multiple: true },
      errors: { type: 'string' }, 'max-errors': { type: 'string' }, 'rows-per-request': { type: 'string' },
      resume: { type: 'boolean' }, overwrite: { type: 'boolean' }, url: { type: 'string' },
      'model-repository': { type: 'string' }, 'pool-size': { type: 'string' },
      'no-progress': { type: 'boolean' }, 'checkpoint-every-ms': { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(BATCH_HELP);
    return 0;
  }
  const missing = (['model', 'input', 'output'] as const).filter((k) => !values[k]);
  if (missing.length) throw new ConfigError(`missing ${missing.map((k) => `--${k}`).join(', ')}`);
  const formats = { input: ['csv', 'jsonl', 'parquet'], output: ['jsonl', 'csv', 'parquet'] };
  for (const k of ['input', 'output'] as const) {
    const f = values[`${k}-format`];
    if (f !== undefined && !formats[k].includes(f)) throw new ConfigError(`--${k}-format: must be one of ${formats[k].join(', ')}, got '${f}'`);
  }
  if (values.resume && values.overwrite) throw new ConfigError('--resume and --overwrite exclude each other');
  const spec: BatchJobSpec = {
    model: values.model!, version: values.version, input: values.input!, output: values.output!,
    inputFormat: values['input-format'] as InputFormat | undefined, outputFormat: values['output-format'] as OutputFormat | undefined,
    idColumn: values['id-column'], columns: parseColumnsFlag(values.columns ?? []), errors: values.errors,
    maxErrors: intFlag(values['max-errors'], 'max-errors', 0), rowsPerRequest: intFlag(values['rows-per-request'], 'rows-per-request', 1),
  };

  let gw: Gateway | undefined;
  let inferrer: RowInferrer;
  if (values.url) {
    inferrer = new HttpInferrer(values.url, spec.model, spec.version);
  } else {
    const flags: Record<string, unknown> = {
      'model-repository': values['model-repository'], 'pool-size': values['pool-size'], 'log-level': values['log-level'] ?? 'warn',
      'model-control-mode': 'explicit', 'load-model': spec.model,
    };
    const config = loadServerConfig(Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)));
    gw = new Gateway(config, { processMetrics: false });
    installCapabilities(gw);
    await gw.prepare();
    inferrer = new InProcessInferrer(gw.frontEndDeps, spec.model, spec.version, { source: 'batch' });
  }

  const job = new BatchJob(spec, inferrer, { resume: values.resume, overwrite: values.overwrite, checkpointIntervalMs: intFlag(values['checkpoint-every-ms'], 'checkpoint-every-ms', 1) });
  const bar = values['no-progress'] ? undefined : new ProgressBar(process.stderr, () => job.progress(), spec.model);
  const onSignal = (sig: string) => {
    process.stderr.write(`\ninfergate batch: ${sig}: stopping after the requests in flight and checkpointing...\n`);
    job.stop();
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  bar?.start();
  try {
    const state = await job.run();
    bar?.stop();
    const p = job.progress();
    const bad = p.rowsFailed ? `, ${p.rowsFailed} bad rows in ${errorsPath(spec)}` : ', no bad rows';
    if (state === 'CANCELLED') {
      process.stdout.write(`infergate batch: stopped at ${p.rowsDone} rows${bad}; run the same command with --resume to go on\n`);
      return 130;
    }
    const rate = p.rowsPerSecond > 0 ? ` (${Math.round(p.rowsPerSecond)} rows/s)` : '';
    process.stdout.write(`infergate batch: ${p.rowsDone} rows written to ${spec.output}${bad}${rate}\n`);
    return 0;
  } catch (err) {
    bar?.stop();
    const msg = err instanceof JobError ? err.message : (err as Error).message;
    process.stderr.write(`infergate batch: ${msg}\n`);
    if (!(err instanceof JobError)) process.stderr.write('infergate batch: the checkpoint holds every row written so far; fix the cause and run again with --resume\n');
    return 1;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    await gw?.stop();
  }
}
