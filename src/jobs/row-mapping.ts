import { ARRAY_OF, type Datatype, INT_RANGE, type NumericArray } from '../protocol/datatypes.js';
import type { Tensor } from '../protocol/types.js';
import type { InputRecord } from './input.js';
import type { JobSignature } from './model-signature.js';

/**
 * Which columns feed each model input: a list of columns (one element each, in the input's
 * order), or one column that holds the row's values (an array, or a scalar for width 1).
 */
export type ColumnMapping = Record<string, readonly string[] | string>;

/** A row of the input that could not become part of a request, and why. */
export class RowError extends Error {}

/** One input as rows fill it: its datatype, elements per row, and the columns it reads. */
interface InputPlan {
  name: string;
  datatype: Datatype;
  /** Elements per row; -1 when a dynamic dimension takes its size from each row's array. */
  width: number;
  /** The row's shape without the batch axis (with -1 where dynamic). */
  rowShape: number[];
  columns: readonly string[] | string;
  /** For a float input read from listed columns of a file with a header: their positions (the fast path). */
  fieldIndex?: number[];
  /** The job's spec maps this input itself (columns: {...}). */
  explicit: boolean;
}

/** A row that mapped: its input values, keyed by width for dynamic inputs. */
export interface MappedRow {
  line: number;
  id: unknown;
  values: (number[] | bigint[] | string[])[];
  /** Joins rows whose dynamic dimensions agree (all rows agree when nothing is dynamic). */
  shapeKey: string;
}

/**
 * Turns input rows into model inputs by a column mapping: the job spec's `columns`, else the
 * monitor's mapping, else a column named like the input. Bad values are errors of their row
 * (RowError), never of the job.
 */
export class RowMapper {
  private readonly plans: InputPlan[];
  private readonly index = new Map<string, number>();
  /** The id column, or undefined when rows are numbered instead. */
  readonly idColumn: string | undefined;

  constructor(
    readonly sig: JobSignature,
    opts: { columns?: ColumnMapping; idColumn?: string; idColumnRequired?: boolean; header?: readonly string[] },
  ) {
    const header = opts.header;
    header?.forEach((h, i) => this.index.set(h, i));
    const idCol = opts.idColumn ?? 'id';
    if (header && !header.includes(idCol)) {
      if (opts.idColumnRequired) throw new Error(`--id-column '${idCol}' is not a column of the input (columns: ${header.join(', ')})`);
      this.idColumn = undefined;
    } else this.idColumn = idCol;
    const wanted = sig.inputs.filter((i) => i.name !== sig.builtInput).map((i) => ({ ...i }));
    if (sig.entityInput && !wanted.some((w) => w.name === sig.entityInput)) {
      wanted.push({ name: sig.entityInput, datatype: 'BYTES', shape: sig.maxBatchSize > 0 ? [-1] : [1] });
    }
    const given = opts.columns ?? {};
    for (const k of Object.keys(given)) {
      if (!wanted.some((w) => w.name === k)) {
        throw new Error(`columns.${k}: '${k}' is not an input of model '${sig.model}' (inputs: ${wanted.map((w) => w.name).join(', ')})`);
      }
    }
    this.plans = wanted.map((m) => {
      const rowShape = sig.maxBatchSize > 0 ? m.shape.slice(1) : [...m.shape];
      const dynamic = rowShape.some((d) => d < 0);
      const width = dynamic ? -1 : rowShape.reduce((a, b) => a * b, 1);
      const columns = given[m.name] ?? sig.monitorColumns?.[m.name] ?? m.name;
      const where = given[m.name] ? `columns.${m.name}` : sig.monitorColumns?.[m.name] ? `monitoring.columns.${m.name}` : `input '${m.name}'`;
      if (m.datatype === 'FP16' || m.datatype === 'BF16') throw new Error(`input '${m.name}' is ${m.datatype}, which batch jobs cannot fill from rows`);
      if (Array.isArray(columns)) {
        if (columns.length === 0 || !columns.every((c) => typeof c === 'string')) throw new Error(`${where}: must be a non-empty list of column names`);
        if (dynamic) throw new Error(`${where}: input '${m.name}' has a dynamic dimension; map it to one column holding each row's array`);
        if (columns.length !== width) throw new Error(`${where}: input '${m.name}' takes ${width} values per row, the mapping names ${columns.length} columns`);
      } else if (typeof columns !== 'string' || columns === '') throw new Error(`${where}: must be a column name or a list of column names`);
      if (header) {
        const missing = (Array.isArray(columns) ? columns : [columns as string]).filter((c) => !this.index.has(c));
        if (missing.length) {
          const hint = given[m.name] ? '' : ` (map it with columns: {${m.name}: [...]})`;
          throw new Error(`${where}: column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `'${c}'`).join(', ')} not in the input${hint}`);
        }
      }
      const float = m.datatype === 'FP32' || m.datatype === 'FP64';
      const fieldIndex = header && float && Array.isArray(columns) ? columns.map((c) => this.index.get(c)!) : undefined;
      return { name: m.name, datatype: m.datatype, width, rowShape, columns, fieldIndex, explicit: given[m.name] !== undefined };
    });
  }

  /** Maps one row record; throws RowError naming the column and the problem. */
  mapRow(rec: InputRecord): MappedRow {
    if (rec.kind === 'bad') throw new RowError(rec.reason);
    if (rec.kind === 'request') throw new RowError('an OIP request line among row lines: a file holds one or the other');
    const get = rec.kind === 'fields' ? (c: string) => rec.fields[this.index.get(c) ?? -1] : (c: string) => rec.object[c];
    const has = rec.kind === 'fields' ? (c: string) => this.index.has(c) && this.index.get(c)! < rec.fields.length : (c: string) => c in rec.object;
    let shapeKey = '';
    const values = this.plans.map((p) => {
      if (p.fieldIndex && rec.kind === 'fields') return floatsAt(rec.fields, p.fieldIndex, p.columns as readonly string[]);
      let vals: unknown[];
      // A row object that holds the input by its own name (`{"features": [...]}`) is taken as it is,
      // unless the job maps that input explicitly; the monitor's column names are for wide rows.
      const byName = rec.kind === 'object' && !p.explicit && Array.isArray(rec.object[p.name]);
      if (Array.isArray(p.columns) && !byName) {
        vals = p.columns.map((c) => {
          if (!has(c)) throw new RowError(`missing column '${c}'`);
          return get(c);
        });
      } else {
        const c = byName ? p.name : (p.columns as string);
        if (!has(c)) throw new RowError(`missing column '${c}'`);
        const v = get(c);
        vals = Array.isArray(v) ? v.flat(Infinity) : typeof v === 'string' && v.trimStart().startsWith('[') ? parseArrayText(v, c) : [v];
        if (p.width >= 0 && vals.length !== p.width) throw new RowError(`column '${c}': input '${p.name}' takes ${p.width} values per row, got ${vals.length}`);
        if (p.width < 0) shapeKey += `${vals.length};`;
      }
      return convert(vals, p, Array.isArray(p.columns) && !byName ? p.columns : undefined);
    });
    const id = this.idColumn !== undefined && has(this.idColumn) ? get(this.idColumn) : undefined;
    return { line: rec.line, id, values, shapeKey };
  }

  /** The input tensors of rows that share a shape key, in the model's input order. */
  tensors(rows: readonly MappedRow[]): Tensor[] {
    const n = rows.length;
    const batching = this.sig.maxBatchSize > 0;
    return this.plans.map((p, k) => {
      const width = rows[0].values[k].length;
      const rowShape = p.width >= 0 ? p.rowShape : resolveDynamic(p.rowShape, width, p.name);
      const shape = batching ? [n, ...rowShape] : rowShape;
      if (p.datatype === 'BYTES') {
        const data: string[] = [];
        for (const r of rows) for (const s of r.values[k] as string[]) data.push(s);
        return { name: p.name, datatype: p.datatype, shape, data };
      }
      const data = new ARRAY_OF[p.datatype](n * width) as NumericArray;
      let o = 0;
      for (const r of rows) {
        const v = r.values[k];
        for (let i = 0; i < v.length; i++) (data as unknown as (number | bigint)[])[o++] = v[i] as number | bigint;
      }
      return { name: p.name, datatype: p.datatype, shape, data };
    });
  }
}

/** The fast path of a wide float input: each listed field parsed in place. */
function floatsAt(fields: readonly unknown[], at: readonly number[], columns: readonly string[]): number[] {
  const out = new Array<number>(at.length);
  for (let j = 0; j < at.length; j++) {
    const v = fields[at[j]];
    if (typeof v === 'number') {
      out[j] = v;
      continue;
    }
    if (v === undefined) throw new RowError(`missing column '${columns[j]}'`);
    const n = typeof v === 'string' && v !== '' ? +v : NaN;
    out[j] = n === n ? n : numberOf(v, columns[j]);
  }
  return out;
}

function parseArrayText(v: string, column: string): unknown[] {
  try {
    const a = JSON.parse(v) as unknown;
    if (Array.isArray(a)) return a.flat(Infinity);
  } catch {
    // fall through to the error below
  }
  throw new RowError(`column '${column}': ${JSON.stringify(v.slice(0, 40))} is not a JSON array`);
}

function resolveDynamic(rowShape: number[], count: number, name: string): number[] {
  const fixed = rowShape.filter((d) => d >= 0).reduce((a, b) => a * b, 1);
  const dyn = rowShape.filter((d) => d < 0).length;
  if (dyn > 1 || count % fixed !== 0) throw new RowError(`input '${name}': ${count} values do not fit the shape [${rowShape.join(',')}]`);
  return rowShape.map((d) => (d < 0 ? count / fixed : d));
}

/** Converts a row's raw values to the input's datatype, naming the column of a bad one. */
function convert(vals: unknown[], p: InputPlan, columns: readonly string[] | undefined): number[] | bigint[] | string[] {
  const colOf = (i: number) => (columns ? columns[i] : (p.columns as string));
  if (p.datatype === 'BYTES') {
    return vals.map((v, i) => {
      if (v === null || v === undefined) throw new RowError(`column '${colOf(i)}' is empty`);
      return typeof v === 'string' ? v : String(v);
    });
  }
  if (p.datatype === 'INT64' || p.datatype === 'UINT64') {
    return vals.map((v, i) => {
      const n = typeof v === 'bigint' ? v : integerOf(v, colOf(i), p.datatype);
      return BigInt(n);
    });
  }
  const isFloat = p.datatype === 'FP32' || p.datatype === 'FP64';
  const range = INT_RANGE[p.datatype];
  return vals.map((v, i) => {
    if (p.datatype === 'BOOL') {
      if (v === true || v === 1 || v === '1' || v === 'true' || v === 'True') return 1;
      if (v === false || v === 0 || v === '0' || v === 'false' || v === 'False') return 0;
      throw new RowError(`column '${colOf(i)}': ${JSON.stringify(v)} is not a boolean`);
    }
    if (!isFloat) {
      const n = integerOf(v, colOf(i), p.datatype);
      if (range && (n < range[0] || n > range[1])) throw new RowError(`column '${colOf(i)}': ${n} is out of range for ${p.datatype}`);
      return n;
    }
    return numberOf(v, colOf(i));
  });
}

function numberOf(v: unknown, column: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v === null || v === undefined || v === '') throw new RowError(`column '${column}' is empty`);
  if (typeof v === 'string') {
    const n = Number(v);
    if (!Number.isNaN(n) || /^\s*nan\s*$/i.test(v)) return n;
  }
  throw new RowError(`column '${column}': ${JSON.stringify(v)} is not a number`);
}

function integerOf(v: unknown, column: string, dt: Datatype): number {
  const n = numberOf(v, column);
  if (!Number.isSafeInteger(n)) throw new RowError(`column '${column}': ${JSON.stringify(v)} is not an integer (${dt})`);
  return n;
}
