import { isObj } from '../config/validate.js';
import { invalid } from '../protocol/errors.js';
import type { FeatureStore } from './feature-store.js';
import { RowError, latestRows } from './rows.js';

/** Most rows one /push may carry. */
export const MAX_PUSH_ROWS = 10_000;
const PUSH_KEYS = ['push_source_name', 'df', 'to', 'allow_registry_cache', 'transform_on_write'];

/**
 * Feast's POST /push: columnar rows (`df`) written through a push source to the online store
 * of each of its feature views; `df` holds the join keys, the timestamp field and every
 * feature of those views. Returns the rows written per view.
 */
export async function push(fs: FeatureStore, body: unknown): Promise<Record<string, number>> {
  if (!isObj(body)) throw invalid('request body: expected a JSON object with push_source_name and df');
  for (const k of Object.keys(body)) if (!PUSH_KEYS.includes(k)) throw invalid(`unknown field '${k}' (allowed: ${PUSH_KEYS.join(', ')})`);
  const name = body.push_source_name;
  if (typeof name !== 'string') throw invalid(`'push_source_name': expected a string, got ${JSON.stringify(name)}`);
  const source = fs.def.pushSources.get(name);
  if (!source) throw invalid(`'push_source_name': unknown push source '${name}' (known: ${[...fs.def.pushSources.keys()].join(', ') || 'none'})`);
  const to = body.to ?? 'online';
  if (to !== 'online') {
    throw invalid(`'to': only "online" is served (infergate keeps no offline store), got ${JSON.stringify(to)}`);
  }
  for (const k of ['allow_registry_cache', 'transform_on_write']) {
    if (body[k] !== undefined && typeof body[k] !== 'boolean') throw invalid(`'${k}': expected true or false, got ${JSON.stringify(body[k])}`);
  }
  const df = body.df;
  if (!isObj(df)) throw invalid("'df': expected an object mapping each column to a list of values");
  let rows = -1;
  for (const [col, values] of Object.entries(df)) {
    if (!Array.isArray(values)) throw invalid(`'df.${col}': expected a list of values`);
    if (rows >= 0 && values.length !== rows) throw invalid(`'df': every column needs the same number of values ('${col}' has ${values.length}, expected ${rows})`);
    rows = values.length;
  }
  if (rows <= 0) throw invalid("'df': expected at least one row");
  if (rows > MAX_PUSH_ROWS) throw invalid(`'df': at most ${MAX_PUSH_ROWS} rows per push, got ${rows}`);

  // Check every view's columns before writing any, so a bad push writes nothing.
  const views = source.featureViews.map((v) => fs.def.featureViews.get(v)!);
  const batches = views.map((view) => {
    for (const c of [...view.joinKeys.map((j) => j.name), view.source.timestampField, ...view.features.map((f) => f.name)]) {
      if (!(c in df)) throw invalid(`'df': missing column '${c}' (feature view '${view.name}' needs its join keys, '${view.source.timestampField}' and every feature)`);
    }
    try {
      return latestRows(view, { rows, column: (c) => df[c] as unknown[], cell: (c, i) => `'df.${c}[${i}]'` });
    } catch (err) {
      if (err instanceof RowError) throw invalid(err.message);
      throw err;
    }
  });
  const written: Record<string, number> = {};
  for (let i = 0; i < views.length; i++) {
    await fs.cached.write(views[i].name, views[i].joinKeys.map((j) => j.name), batches[i]);
    fs.metrics.rowsPushed.inc({ view: views[i].name }, batches[i].length);
    written[views[i].name] = batches[i].length;
  }
  return written;
}
