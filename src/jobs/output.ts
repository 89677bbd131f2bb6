import { rename, rm } from 'node:fs/promises';
import { ParquetWriter, fileWriter } from 'hyparquet-writer';
import type { Datatype } from '../protocol/datatypes.js';
import type { TensorData, TensorMetadata } from '../protocol/types.js';
import { csvField } from './csv.js';
import { LineReader } from './line-reader.js';
import { AppendFile } from './text-file.js';

/** The file formats a batch job writes. */
export type OutputFormat = 'jsonl' | 'csv' | 'parquet';

/** One output of the model, as a job writes it per row. */
export interface OutputColumn {
  name: string;
  datatype: Datatype;
  /** Elements per row; -1 when a dynamic dimension makes it vary. */
  width: number;
  /** A rank-1 output ([batch]): one value per row, written as a scalar. */
  scalar: boolean;
}

/** The outputs of the model as rows carry them. */
export function outputColumns(outputs: readonly TensorMetadata[], maxBatchSize: number): OutputColumn[] {
  return outputs.map((o) => {
    const rowShape = maxBatchSize > 0 ? o.shape.slice(1) : o.shape;
    const width = rowShape.some((d) => d < 0) ? -1 : rowShape.reduce((a, b) => a * b, 1);
    return { name: o.name, datatype: o.datatype, width, scalar: maxBatchSize > 0 && rowShape.length === 0 };
  });
}

/** Row `i`'s values of an output tensor holding `rows` rows. */
export interface RowOutputs {
  /** The tensors of one request, in the order of the output columns. */
  data: readonly TensorData[];
  /** Elements per row of each tensor. */
  widths: readonly number[];
}

/**
 * Where a job writes its rows. The job formats a chunk's text, appends it once, and the
 * checkpoint records `bytes`.
 */
export interface OutputWriter {
  readonly bytes: number;
  /** The text of rows `first .. first + ids.length - 1` of one request's outputs. */
  rowsText(ids: readonly unknown[], out: RowOutputs, first: number): string;
  /** The text of one OIP v2 response line (a JSONL input of requests). */
  responseText(json: string): string;
  append(text: string): Promise<void>;
  sync(): Promise<void>;
  /** Completes the file (a Parquet output is written from its spool here). */
  finish(): Promise<void>;
  /** Removes what only the running job needed (a Parquet spool), after the last checkpoint. */
  cleanup(): Promise<void>;
  close(): Promise<void>;
}

export interface OutputOptions {
  /** The id column's name in the output ('row' when rows are numbered). */
  idName: string;
  columns: OutputColumn[];
  /** Resume: the length the checkpoint recorded (of the spool, for Parquet). */
  resumeAt?: number;
}

/** Where a Parquet output is spooled as JSONL until the job completes. */
export function spoolPath(output: string): string {
  return `${output}.spool.jsonl`;
}

/** Opens the output file of a job (fresh, or cut back to its checkpoint). */
export async function openOutput(path: string, format: OutputFormat, opts: OutputOptions): Promise<OutputWriter> {
  if (format !== 'jsonl') {
    const bad = opts.columns.find((c) => c.width < 0 || c.datatype === 'FP16' || c.datatype === 'BF16');
    if (bad) throw new Error(`output '${bad.name}' has ${bad.width < 0 ? 'a varying width per row' : `datatype ${bad.datatype}`}: write JSONL instead of ${format}`);
  }
  if (format === 'parquet') {
    const spool = await AppendFile.open(spoolPath(path), opts.resumeAt);
    return new ParquetOutput(path, spool, opts);
  }
  const file = await AppendFile.open(path, opts.resumeAt);
  if (format === 'csv') {
    const w = new CsvOutput(file, opts);
    if (file.bytes === 0) await file.append(`${w.headerLine()}\n`);
    return w;
  }
  return new JsonlOutput(file, opts);
}

/** A value as JSON text; non-finite floats (not JSON) become null. */
function jsonValue(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'bigint') return v.toString();
  if (v === undefined) return 'null';
  if (v instanceof Uint8Array) return JSON.stringify(Buffer.from(v).toString('utf8'));
  return JSON.stringify(v);
}

function rowValues(d: TensorData, start: number, width: number, dt: Datatype): unknown[] {
  const out = new Array<unknown>(width);
  for (let j = 0; j < width; j++) {
    const v = d[start + j];
    out[j] = dt === 'BOOL' ? v !== 0 : v;
  }
  return out;
}

/** JSON text of `width` values of a tensor from `start`: numbers straight from the typed array. */
function jsonSlice(d: TensorData, start: number, width: number, dt: Datatype): string {
  if (Array.isArray(d) || dt === 'BOOL' || dt === 'INT64' || dt === 'UINT64') return rowValues(d, start, width, dt).map(jsonValue).join(',');
  let text = '';
  for (let j = 0; j < width; j++) {
    const v = (d as Float32Array)[start + j];
    text += j === 0 ? '' : ',';
    text += v - v === 0 ? v : 'null'; // NaN and infinities are not JSON
  }
  return text;
}

/** A text output appended line by line to one file (JSONL, CSV): what they share. */
abstract class TextFileOutput implements OutputWriter {
  constructor(protected readonly file: AppendFile, protected readonly opts: OutputOptions) {}

  abstract rowsText(ids: readonly unknown[], out: RowOutputs, first: number): string;
  abstract responseText(json: string): string;

  get bytes(): number {
    return this.file.bytes;
  }

  append(text: string): Promise<void> {
    return this.file.append(text);
  }

  sync(): Promise<void> {
    return this.file.sync();
  }

  async finish(): Promise<void> {}

  async cleanup(): Promise<void> {}

  close(): Promise<void> {
    return this.file.close();
  }
}

class JsonlOutput extends TextFileOutput {
  private readonly keys: string[];
  constructor(file: AppendFile, opts: OutputOptions) {
    super(file, opts);
    this.keys = opts.columns.map((c) => JSON.stringify(c.name));
  }

  rowsText(ids: readonly unknown[], out: RowOutputs, first: number): string {
    const idKey = JSON.stringify(this.opts.idName);
    let text = '';
    for (let r = 0; r < ids.length; r++) {
      let line = `{${idKey}:${jsonValue(ids[r])}`;
      this.opts.columns.forEach((c, k) => {
        const w = out.widths[k];
        const vals = jsonSlice(out.data[k], (first + r) * w, w, c.datatype);
        line += `,${this.keys[k]}:${c.scalar ? vals : `[${vals}]`}`;
      });
      text += `${line}}\n`;
    }
    return text;
  }

  responseText(json: string): string {
    return `${json}\n`;
  }

}

/** Column names of a flat layout: the id, then `name` (scalar) or `name_0`, `name_1`, ... */
function flatNames(opts: OutputOptions): string[] {
  const names = [opts.idName];
  for (const c of opts.columns) {
    if (c.scalar) names.push(c.name);
    else for (let j = 0; j < c.width; j++) names.push(`${c.name}_${j}`);
  }
  return names;
}

class CsvOutput extends TextFileOutput {

  headerLine(): string {
    return flatNames(this.opts).map(csvField).join(',');
  }

  rowsText(ids: readonly unknown[], out: RowOutputs, first: number): string {
    let text = '';
    for (let r = 0; r < ids.length; r++) {
      const id = ids[r];
      let line = id === undefined || id === null ? '' : csvField(String(id));
      this.opts.columns.forEach((c, k) => {
        const w = out.widths[k];
        for (const v of rowValues(out.data[k], (first + r) * w, w, c.datatype)) {
          line += `,${typeof v === 'string' ? csvField(v) : v instanceof Uint8Array ? csvField(Buffer.from(v).toString('utf8')) : String(v)}`;
        }
      });
      text += `${line}\n`;
    }
    return text;
  }

  responseText(): string {
    throw new Error('OIP request lines are answered with OIP response lines: write JSONL output');
  }

}

/** Parquet column type per datatype (flat columns, like the CSV layout). */
function parquetType(dt: Datatype): { type: 'FLOAT' | 'DOUBLE' | 'INT32' | 'INT64' | 'BOOLEAN' | 'BYTE_ARRAY'; converted_type?: 'UTF8' } {
  switch (dt) {
    case 'FP32': return { type: 'FLOAT' };
    case 'FP64': return { type: 'DOUBLE' };
    case 'INT64': case 'UINT64': case 'UINT32': return { type: 'INT64' };
    case 'BOOL': return { type: 'BOOLEAN' };
    case 'BYTES': return { type: 'BYTE_ARRAY', converted_type: 'UTF8' };
    default: return { type: 'INT32' };
  }
}

/** Rows per Parquet row group. */
const ROW_GROUP = 65536;

/**
 * Parquet cannot be appended to and cut back (its footer comes last), so rows are spooled as
 * JSONL arrays, checkpointed like any text output, and the Parquet file is written from the
 * spool when the job completes (to a temporary name, then renamed).
 */
class ParquetOutput implements OutputWriter {
  constructor(
    private readonly path: string,
    private readonly spool: AppendFile,
    private readonly opts: OutputOptions,
  ) {}

  get bytes(): number {
    return this.spool.bytes;
  }

  rowsText(ids: readonly unknown[], out: RowOutputs, first: number): string {
    let text = '';
    for (let r = 0; r < ids.length; r++) {
      const vals: string[] = [jsonValue(ids[r] === undefined ? null : ids[r])];
      this.opts.columns.forEach((c, k) => {
        const w = out.widths[k];
        for (const v of rowValues(out.data[k], (first + r) * w, w, c.datatype)) vals.push(jsonValue(v));
      });
      text += `[${vals.join(',')}]\n`;
    }
    return text;
  }

  responseText(): string {
    throw new Error('OIP request lines are answered with OIP response lines: write JSONL output');
  }

  append(text: string): Promise<void> {
    return this.spool.append(text);
  }

  sync(): Promise<void> {
    return this.spool.sync();
  }

  async finish(): Promise<void> {
    await this.spool.sync();
    const names = flatNames(this.opts);
    const types = [undefined as Datatype | undefined];
    for (const c of this.opts.columns) for (let j = 0; j < (c.scalar ? 1 : c.width); j++) types.push(c.datatype);
    const lines = await LineReader.open(this.spool.path);
    const tmp = `${this.path}.tmp`;
    let cols: unknown[][] = names.map(() => []);
    let idKind: 'STRING' | 'DOUBLE' | undefined;
    let writer: ParquetWriter | undefined;
    const flush = () => {
      const kind = idKind ?? 'STRING';
      if (!writer) {
        const schema = [
          { name: 'root', num_children: names.length },
          { name: names[0], ...(kind === 'STRING' ? { type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const } : { type: 'DOUBLE' as const }), repetition_type: 'OPTIONAL' as const },
          ...names.slice(1).map((n, i) => ({ name: n, ...parquetType(types[i + 1]!), repetition_type: 'OPTIONAL' as const })),
        ];
        writer = new ParquetWriter({ writer: fileWriter(tmp), schema });
      }
      const columnData = names.map((name, i) => ({
        name,
        data: i === 0 && kind === 'STRING' ? cols[0].map((v) => (v === null ? null : String(v))) : types[i] === 'INT64' || types[i] === 'UINT64' || types[i] === 'UINT32' ? cols[i].map((v) => (v === null ? null : BigInt(v as number))) : cols[i],
      }));
      void writer.write({ columnData, rowGroupSize: ROW_GROUP });
      cols = names.map(() => []);
    };
    try {
      for (let l = await lines.next(); l; l = await lines.next()) {
        if (!l.text) continue;
        const row = JSON.parse(l.text) as unknown[];
        if (idKind === undefined && row[0] !== null) idKind = typeof row[0] === 'number' ? 'DOUBLE' : 'STRING';
        row.forEach((v, i) => cols[i].push(v));
        if (cols[0].length >= ROW_GROUP) flush();
      }
      if (cols[0].length > 0 || !writer) flush();
      writer!.finish();
    } finally {
      await lines.close();
    }
    await rename(tmp, this.path);
  }

  async cleanup(): Promise<void> {
    await this.spool.close().catch(() => {});
    await rm(this.spool.path, { force: true });
  }

  close(): Promise<void> {
    return this.spool.close().catch(() => {});
  }
}
