import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { ConfigError } from '../config/validate.js';
import { findFeatureStoreFile } from '../features/definitions.js';
import { FeatureStore } from '../features/feature-store.js';
import { type MaterializeProgress, SourceError, materialize, materializeIncremental, selectViews } from '../features/materialize.js';
import { rfc3339, parseTimestamp } from '../features/values.js';
import { InferError } from '../protocol/errors.js';

export const FEATURES_HELP = `Usage: infergate features <command> [options]

Feast-style online features: load feature views from their sources into the online store.

Commands:
  materialize START END            rows with START <= event time < END, latest per entity key
  materialize-incremental END      from each view's last materialized time (first time: now - ttl) to END

Times are ISO 8601 (2026-11-01, 2026-11-01T12:00:00Z; no zone = UTC).

Options:
  --feature-store FILE      feature definitions (default: feature_store.yaml in --model-repository)
  --model-repository DIR    model repository holding feature_store.yaml (default ./models)
  -v, --views a,b           only these feature views (repeatable or comma-separated)
  -h, --help                show this help

Examples:
  infergate features materialize 2026-10-01 2026-12-01
  infergate features materialize-incremental 2026-12-01T00:00:00Z --views patient_features
`;

/** `infergate features ...`: materialization from the command line, with a progress bar. */
export async function features(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'feature-store': { type: 'string' },
      'model-repository': { type: 'string' },
      views: { type: 'string', short: 'v', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [cmd, ...times] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(FEATURES_HELP);
    return values.help ? 0 : 2;
  }
  const wanted = cmd === 'materialize' ? 2 : cmd === 'materialize-incremental' ? 1 : -1;
  if (wanted < 0) throw new ConfigError(`features: unknown command '${cmd}' (materialize, materialize-incremental)`);
  if (times.length !== wanted) {
    throw new ConfigError(`features ${cmd}: expected ${wanted === 2 ? 'START and END' : 'END'}, got ${times.length} argument(s)`);
  }
  const ms = times.map((t, i) => {
    const v = parseTimestamp(t);
    if (v === undefined) throw new ConfigError(`features ${cmd}: ${wanted === 2 && i === 0 ? 'START' : 'END'} '${t}' is not an ISO 8601 time (e.g. 2026-11-01 or 2026-11-01T00:00:00Z)`);
    return v;
  });
  if (wanted === 2 && ms[0] >= ms[1]) throw new ConfigError(`features materialize: START must be before END`);

  const file = findFeatureStoreFile(values['feature-store'], values['model-repository'] ?? './models');
  if (!file) throw new ConfigError(`features: no feature_store.yaml in ${values['model-repository'] ?? './models'}; pass --feature-store FILE`);
  const fs = await FeatureStore.open(file, new Registry());
  try {
    const names = (values.views ?? []).flatMap((v) => v.split(',')).map((s) => s.trim()).filter(Boolean);
    const views = selectViews(fs, names);
    if (typeof views === 'string') throw new ConfigError(`features: unknown feature view '${views}' (known: ${[...fs.def.featureViews.keys()].join(', ')})`);
    const end = ms[ms.length - 1];
    process.stdout.write(`Materializing ${views.length} feature view${views.length === 1 ? '' : 's'} ${wanted === 2 ? `from ${rfc3339(ms[0])} ` : ''}to ${rfc3339(end)} into the ${fs.store.describe} online store.\n\n`);
    const bar = progressBar();
    const results = wanted === 2 ? await materialize(fs, views, ms[0], end, bar) : await materializeIncremental(fs, views, end, bar);
    bar.end();
    const total = results.reduce((n, r) => n + r.rows, 0);
    process.stdout.write(`\nDone: ${total} rows written to ${fs.store.describe}.\n`);
    return 0;
  } catch (err) {
    if (err instanceof SourceError || err instanceof InferError) {
      process.stderr.write(`\ninfergate features: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await fs.close();
  }
}

/** A tqdm-like bar per view: redrawn in place on a terminal, one line at the start and end otherwise. */
function progressBar(out: NodeJS.WriteStream = process.stdout): ((p: MaterializeProgress) => void) & { end(): void } {
  const tty = out.isTTY === true;
  let started = 0;
  let open = false;
  const line = (p: MaterializeProgress) => {
    const frac = p.total === 0 ? 1 : p.done / p.total;
    const width = 40;
    const full = Math.round(frac * width);
    const secs = (Date.now() - started) / 1000;
    const rate = secs > 0 ? `${Math.round(p.done / secs)} rows/s` : '';
    return `${String(Math.round(frac * 100)).padStart(3)}%|${'█'.repeat(full)}${' '.repeat(width - full)}| ${p.done}/${p.total} [${secs.toFixed(1)}s${rate ? `, ${rate}` : ''}]`;
  };
  const report = (p: MaterializeProgress) => {
    if (p.done === 0) {
      if (open) out.write('\n');
      started = Date.now();
      out.write(`${p.view} from ${rfc3339(p.startMs < 0 ? 0 : p.startMs)} to ${rfc3339(p.endMs)}:\n`);
    }
    const done = p.done === p.total;
    if (tty) {
      out.write(`\r\x1b[K${line(p)}`);
      open = !done;
      if (done) out.write('\n');
    } else if (done) {
      out.write(`${line(p)}\n`);
    }
  };
  return Object.assign(report, {
    end() {
      if (open) out.write('\n');
      open = false;
    },
  });
}
