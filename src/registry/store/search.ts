import type { Dialect, SqlRunner, SqlValue } from '../db/db.js';
import { invalidParam } from '../errors.js';
import { type Condition, MODEL_FILTER, type OrderTerm, VERSION_FILTER, offsetFromPageToken, pageToken, parseFilter, parseOrderBy } from '../search-filter.js';
import type { ModelVersion, Page, RegisteredModel } from '../types.js';
import { type ModelRow, VERSION_COLUMNS, type VersionRow, modelsFromRows, placeholders, versionsFromRows } from './rows.js';

/** MLflow's search limits (mlflow/store/model_registry/__init__.py). */
export const SEARCH_LIMITS = {
  models: { default: 100, max: 1000 },
  versions: { default: 10_000, max: 200_000 },
} as const;

export interface SearchQuery {
  filter?: string;
  maxResults?: number;
  orderBy?: readonly string[];
  pageToken?: string;
}

/** LIKE is case-sensitive and ILIKE is not, on both databases; `\` is an ordinary character. */
function compare(d: Dialect, column: string, comparator: string, value: string | number | string[], params: SqlValue[]): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return comparator === 'IN' ? '1 = 0' : '1 = 1';
    params.push(...value);
    return `${column} ${comparator} (${placeholders(value.length)})`;
  }
  if (comparator === 'LIKE') {
    if (d === 'postgres') {
      params.push(value);
      return `${column} LIKE ? ESCAPE ''`;
    }
    // SQLite's LIKE ignores case; GLOB does not.
    params.push(globFromLike(String(value)));
    return `${column} GLOB ?`;
  }
  if (comparator === 'ILIKE') {
    params.push(value);
    return d === 'postgres' ? `${column} ILIKE ? ESCAPE ''` : `${column} LIKE ?`;
  }
  params.push(value);
  return `${column} ${comparator} ?`;
}

/** A LIKE pattern as a GLOB pattern: % -> *, _ -> ?, GLOB's own wildcards made literal. */
export function globFromLike(pattern: string): string {
  let out = '';
  for (const c of pattern) {
    if (c === '%') out += '*';
    else if (c === '_') out += '?';
    else if (c === '*' || c === '?' || c === '[') out += `[${c}]`;
    else out += c;
  }
  return out;
}

function where(d: Dialect, conds: Condition[], columns: Record<string, string>, tagTable: string, tagJoin: string, params: SqlValue[]): string {
  if (conds.length === 0) return '';
  const parts = conds.map((c) => {
    if (c.type === 'tag') {
      params.push(c.key);
      return `EXISTS (SELECT 1 FROM ${tagTable} tg WHERE ${tagJoin} AND tg.key = ? AND ${compare(d, 'tg.value', c.comparator, c.value, params)})`;
    }
    return compare(d, columns[c.key], c.comparator, c.value, params);
  });
  return `WHERE ${parts.join(' AND ')}`;
}

function orderSql(d: Dialect, terms: OrderTerm[], columns: Record<string, string>): string {
  // Names sort by code point on both databases (a Postgres database's collation could differ).
  const col = (k: string) => (k === 'name' && d === 'postgres' ? `${columns[k]} COLLATE "C"` : columns[k]);
  return terms.map((t) => `${col(t.key)} ${t.ascending ? 'ASC' : 'DESC'}`).join(', ');
}

function limit(what: keyof typeof SEARCH_LIMITS, maxResults: number | undefined): number {
  const l = SEARCH_LIMITS[what];
  const n = maxResults ?? l.default;
  if (!Number.isSafeInteger(n) || n < 1) throw invalidParam(`Invalid value for request parameter max_results: it must be a positive integer, but got value ${n}`);
  if (n > l.max) throw invalidParam(`Invalid value for request parameter max_results. It must be at most ${l.max}, but got value ${n}`);
  return n;
}

/** Runs one page: asks for one row more than the page to know whether another page follows. */
async function paged<R>(t: SqlRunner, sql: string, params: SqlValue[], max: number, token: string | undefined): Promise<{ rows: R[]; next?: string }> {
  const offset = offsetFromPageToken(token);
  const rows = await t.all<R & Record<string, unknown>>(`${sql} LIMIT ? OFFSET ?`, [...params, max + 1, offset]);
  return rows.length > max ? { rows: rows.slice(0, max), next: pageToken(offset + max) } : { rows };
}

const MODEL_COLUMNS = { name: 'm.name', timestamp: 'm.last_updated_time', last_updated_timestamp: 'm.last_updated_time', creation_timestamp: 'm.creation_time' };

/** search-registered-models: filter on name and tags, ordered (name ASC breaks ties), paged. */
export async function searchModels(t: SqlRunner, q: SearchQuery): Promise<Page<RegisteredModel>> {
  const max = limit('models', q.maxResults);
  const conds = parseFilter(q.filter, MODEL_FILTER);
  const terms = parseOrderBy(q.orderBy ?? [], Object.keys(MODEL_COLUMNS));
  // timestamp and last_updated_timestamp are one column: the first one named decides.
  const seen = new Set<string>();
  const order = terms.filter((x) => {
    const c = MODEL_COLUMNS[x.key as keyof typeof MODEL_COLUMNS];
    if (seen.has(c)) return false;
    seen.add(c);
    return true;
  });
  if (!order.some((x) => x.key === 'name')) order.push({ key: 'name', ascending: true });
  const params: SqlValue[] = [];
  const sql = `SELECT m.* FROM registered_models m ${where(t.dialect, conds, { name: 'm.name' }, 'registered_model_tags', 'tg.model_id = m.id', params)}
    ORDER BY ${orderSql(t.dialect, order, MODEL_COLUMNS)}`;
  const { rows, next } = await paged<ModelRow>(t, sql, params, max, q.pageToken);
  return { items: await modelsFromRows(t, rows), nextPageToken: next };
}

const VERSION_ORDER_COLUMNS = { name: 'm.name', version_number: 'v.version', creation_timestamp: 'v.creation_time', last_updated_timestamp: 'v.last_updated_time' };
const VERSION_FILTER_COLUMNS = { name: 'm.name', version_number: 'v.version', run_id: 'v.run_id', source_path: 'v.source' };

/** search-model-versions: filter on name, run_id, source_path, version_number and tags; newest update first by default. */
export async function searchVersions(t: SqlRunner, q: SearchQuery): Promise<Page<ModelVersion>> {
  const max = limit('versions', q.maxResults);
  const conds = parseFilter(q.filter, VERSION_FILTER);
  const given = q.orderBy && q.orderBy.length > 0 ? q.orderBy : ['last_updated_timestamp DESC', 'name ASC', 'version_number DESC'];
  const order = parseOrderBy(given, Object.keys(VERSION_ORDER_COLUMNS));
  if (!order.some((x) => x.key === 'name')) order.push({ key: 'name', ascending: true });
  if (!order.some((x) => x.key === 'version_number')) order.push({ key: 'version_number', ascending: false });
  const params: SqlValue[] = [];
  const sql = `SELECT ${VERSION_COLUMNS} FROM model_versions v JOIN registered_models m ON m.id = v.model_id
    ${where(t.dialect, conds, VERSION_FILTER_COLUMNS, 'model_version_tags', 'tg.model_id = v.model_id AND tg.version = v.version', params)}
    ORDER BY ${orderSql(t.dialect, order, VERSION_ORDER_COLUMNS)}`;
  const { rows, next } = await paged<VersionRow>(t, sql, params, max, q.pageToken);
  return { items: await versionsFromRows(t, rows), nextPageToken: next };
}
