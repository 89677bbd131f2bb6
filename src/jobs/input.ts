import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema } from 'hyparquet';
import type { AsyncBuffer, FileMetaData } from 'hyparquet';
import { csvRecordComplete, parseCsvRecord } from './csv.js';
import { type Line, LineReader } from './line-reader.js';

/** The file formats a batch job reads. */
export type InputFormat = 'csv' | 'jsonl' | 'parquet';

/**
 * One record of an input file: a row (by column position for CSV and Parquet, by name for a
 * JSONL object), a whole OIP v2 request (a JSONL line with `inputs`), or a line that could
 * not be read (kept, so that it reaches the error file with its line number).
 */
export type InputRecord =
  | { line: number; kind: 'fields'; fields: readonly unknown[] }
  | { line: number; kind: 'object'; object: Record<string, unknown> }
  | { line: number; kind: 'request'; request: Record<string, unknown> }
  | { line: number; kind: 'bad'; reason: string };

/** Where reading stands: a byte offset and line number (text), or a row index (Parquet). */
export interface InputPosition {
  offset: number;
  line: number;
}

/** A readable input file, positioned; `read` returns [] at its end. */
export interface InputSource {
  readonly format: InputFormat;
  /** Column names, for formats with a header or schema. */
  readonly header: readonly string[] | undefined;
  /** Size in the units of `position().offset` (bytes, or rows for Parquet), for progress. */
  readonly total: number;
  /** Rows in the file when the format says (Parquet), for progress. */
  readonly totalRows: number | undefined;
  position(): InputPosition;
  read(max: number): Promise<InputRecord[]>;
  close(): Promise<void>;
}

/** The format a file name implies, or undefined. */
export function formatOfPath(path: string): InputFormat | undefined {
  const p = path.toLowerCase();
  if (p.endsWith('.csv')) return 'csv';
  if (p.endsWith('.jsonl') || p.endsWith('.ndjson')) return 'jsonl';
  if (p.endsWith('.parquet') || p.endsWith('.pq')) return 'parquet';
  return undefined;
}

/** Opens an input file at a position (the start when `from` is undefined). */
export async function openInput(path: string, format: InputFormat, from?: InputPosition): Promise<InputSource> {
  if (format === 'parquet') return ParquetInput.open(path, from);
  if (format === 'csv') return CsvInput.open(path, from);
  return JsonlInput.open(path, from);
}

/**
 * A text input read line by line (CSV, JSONL): one record per line, or per several lines
 * where the format lets a record run on; its position is a byte offset and line number.
 */
abstract class LineInput implements InputSource {
  abstract readonly format: InputFormat;
  abstract readonly header: readonly string[] | undefined;
  readonly totalRows = undefined;
  private lineNo: number;

  protected constructor(private readonly lines: LineReader, line: number) {
    this.lineNo = line;
  }

  get total(): number {
    return this.lines.size;
  }

  position(): InputPosition {
    return { offset: this.lines.offset, line: this.lineNo };
  }

  /** The next line, counted in the position. */
  protected async nextLine(): Promise<Line | undefined> {
    const l = await this.lines.next();
    if (l) this.lineNo = l.number;
    return l;
  }

  /** The record that starts at this line (it may read further lines), or undefined for a blank line. */
  protected abstract record(l: Line): InputRecord | undefined | Promise<InputRecord | undefined>;

  async read(max: number): Promise<InputRecord[]> {
    const out: InputRecord[] = [];
    while (out.length < max) {
      const l = await this.nextLine();
      if (!l) break;
      const rec = await this.record(l);
      if (rec) out.push(rec);
    }
    return out;
  }

  close(): Promise<void> {
    return this.lines.close();
  }
}

class CsvInput extends LineInput {
  readonly format = 'csv';

  private constructor(lines: LineReader, readonly header: readonly string[], line: number) {
    super(lines, line);
  }

  static async open(path: string, from?: InputPosition): Promise<CsvInput> {
    const head = await LineReader.open(path);
    const first = await head.next();
    await head.close();
    if (!first) throw new Error(`input '${path}' is empty: a CSV input needs a header row`);
    const header = parseCsvRecord(first.text).map((h) => h.trim());
    const line = from?.line ?? first.number;
    const lines = await LineReader.open(path, from?.offset ?? first.end, line);
    return new CsvInput(lines, header, line);
  }

  protected async record(l: Line): Promise<InputRecord | undefined> {
    if (l.text === '') return undefined;
    let text = l.text;
    // A quoted field may hold line breaks: the record goes on until its quotes close.
    while (text.includes('"') && !csvRecordComplete(text)) {
      const more = await this.nextLine();
      if (!more) break;
      text += `\n${more.text}`;
    }
    try {
      return { line: l.number, kind: 'fields', fields: parseCsvRecord(text) };
    } catch (err) {
      return { line: l.number, kind: 'bad', reason: `unreadable CSV record: ${(err as Error).message}` };
    }
  }
}

class JsonlInput extends LineInput {
  readonly format = 'jsonl';
  readonly header = undefined;

  private constructor(lines: LineReader, line: number) {
    super(lines, line);
  }

  static async open(path: string, from?: InputPosition): Promise<JsonlInput> {
    return new JsonlInput(await LineReader.open(path, from?.offset ?? 0, from?.line ?? 0), from?.line ?? 0);
  }

  protected record(l: Line): InputRecord | undefined {
    if (l.text.trim() === '') return undefined;
    let v: unknown;
    try {
      v = JSON.parse(l.text);
    } catch (err) {
      return { line: l.number, kind: 'bad', reason: `not valid JSON: ${(err as Error).message}` };
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      return { line: l.number, kind: 'bad', reason: 'each line must be a JSON object (a row, or an OIP v2 request with "inputs")' };
    }
    if (Array.isArray((v as Record<string, unknown>).inputs)) return { line: l.number, kind: 'request', request: v as Record<string, unknown> };
    return { line: l.number, kind: 'object', object: v as Record<string, unknown> };
  }
}

/** Rows decoded per read of a Parquet file: large enough to amortise page decoding. */
const PARQUET_BLOCK_ROWS = 8192;

class ParquetInput implements InputSource {
  readonly format = 'parquet';
  private next = 0;
  private block: unknown[][] = [];
  private blockStart = 0;

  private constructor(
    private readonly file: AsyncBuffer,
    private readonly metadata: FileMetaData,
    readonly header: readonly string[],
    readonly totalRows: number,
    start: number,
  ) {
    this.next = start;
    this.blockStart = start;
  }

  get total(): number {
    return this.totalRows;
  }

  static async open(path: string, from?: InputPosition): Promise<ParquetInput> {
    const file = await asyncBufferFromFile(path);
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(file);
    } catch (err) {
      throw new Error(`input '${path}' is not a readable Parquet file: ${(err as Error).message}`);
    }
    const header = parquetSchema(metadata).children.map((c) => c.element.name);
    return new ParquetInput(file, metadata, header, Number(metadata.num_rows), from?.offset ?? 0);
  }

  position(): InputPosition {
    return { offset: this.next, line: this.next };
  }

  async read(max: number): Promise<InputRecord[]> {
    const out: InputRecord[] = [];
    while (out.length < max && this.next < this.totalRows) {
      const i = this.next - this.blockStart;
      if (i >= this.block.length) {
        await this.load(this.next);
        continue;
      }
      this.next++;
      // Parquet has no lines: a row's number (1-based) stands in for them.
      out.push({ line: this.next, kind: 'fields', fields: this.block[i] });
    }
    return out;
  }

  private async load(start: number): Promise<void> {
    const rowEnd = Math.min(this.totalRows, start + PARQUET_BLOCK_ROWS);
    let rows: unknown[][] = [];
    await parquetRead({
      file: this.file, metadata: this.metadata, rowStart: start, rowEnd, columns: [...this.header],
      onComplete: (r: unknown[][]) => {
        rows = r;
      },
    });
    this.block = rows;
    this.blockStart = start;
  }

  async close(): Promise<void> {}
}
