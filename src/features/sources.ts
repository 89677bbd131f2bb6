import { readFile } from 'node:fs/promises';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { parseCsv } from './csv.js';
import type { FeastDtype, FileSource } from './types.js';

/** A source file read whole: column names and the raw values of every row. */
export interface SourceTable {
  columns: string[];
  rows: number;
  /** Raw values of one column: strings for CSV; strings, numbers, bigints, booleans, Dates or null for Parquet. */
  column(name: string): readonly unknown[];
}

/** Reads a CSV or Parquet source; errors name the file. */
export async function readSource(src: FileSource): Promise<SourceTable> {
  try {
    if (src.format === 'csv') {
      const { columns, cells } = parseCsv(await readFile(src.path, 'utf8'), src.path);
      const cache = new Map<string, string[]>();
      return {
        columns,
        rows: cells.length,
        column(name) {
          let col = cache.get(name);
          if (!col) {
            const k = columns.indexOf(name);
            if (k < 0) throw new Error(`${src.path}: no column '${name}' (columns: ${columns.join(', ')})`);
            col = cells.map((r) => r[k]);
            cache.set(name, col);
          }
          return col;
        },
      };
    }
    const file = await asyncBufferFromFile(src.path);
    const objects = (await parquetReadObjects({ file })) as Record<string, unknown>[];
    const metadata = await parquetMetadataAsync(file);
    const columns = parquetSchema(metadata).children.map((c) => c.element.name);
    return {
      columns,
      rows: objects.length,
      column(name) {
        if (!columns.includes(name)) throw new Error(`${src.path}: no column '${name}' (columns: ${columns.join(', ')})`);
        return objects.map((o) => o[name]);
      },
    };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new Error(`${src.path}: source file not found`);
    if (e.message.startsWith(src.path)) throw e;
    throw new Error(`${src.path}: cannot read the ${src.format} source: ${e.message}`);
  }
}

/** Column names and the dtype each would get, as Feast infers a schema from its source. */
export async function inferSchema(src: FileSource): Promise<{ name: string; dtype: FeastDtype }[]> {
  if (src.format === 'parquet') {
    const file = await asyncBufferFromFile(src.path).catch((e: NodeJS.ErrnoException) => {
      throw new Error(e.code === 'ENOENT' ? `${src.path}: source file not found` : `${src.path}: ${e.message}`);
    });
    const metadata = await parquetMetadataAsync(file);
    return parquetSchema(metadata).children.map((c) => ({ name: c.element.name, dtype: parquetDtype(c.element) }));
  }
  const table = await readSource(src);
  return table.columns.map((name) => ({ name, dtype: csvDtype(table.column(name) as string[]) }));
}

/** The narrowest Feast type that holds every non-empty cell (pandas' inference: int64, float64, bool, object). */
function csvDtype(cells: readonly string[]): FeastDtype {
  let ints = true;
  let nums = true;
  let bools = true;
  let any = false;
  for (const c of cells) {
    if (c === '') continue;
    any = true;
    if (ints && !/^[+-]?\d+$/.test(c)) ints = false;
    if (nums && (c.trim() === '' || !Number.isFinite(Number(c)))) nums = false;
    if (bools && !/^(true|false|True|False|TRUE|FALSE)$/.test(c)) bools = false;
    if (!ints && !nums && !bools) return 'String';
  }
  if (!any) return 'String';
  if (ints) return 'Int64';
  if (nums) return 'Float64';
  return bools ? 'Bool' : 'String';
}

function parquetDtype(el: { type?: string; converted_type?: string; logical_type?: { type: string } }): FeastDtype {
  switch (el.type) {
    case 'BOOLEAN':
      return 'Bool';
    case 'INT32':
      return 'Int32';
    case 'INT64':
      return 'Int64';
    case 'FLOAT':
      return 'Float32';
    case 'DOUBLE':
      return 'Float64';
    default:
      return 'String';
  }
}
