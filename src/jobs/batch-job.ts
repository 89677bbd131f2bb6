import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { UnknownEntityError } from '../features/errors.js';
import { decodeInferRequest, encodeInferResponse } from '../protocol/json-codec.js';
import { InferError, asInferError } from '../protocol/errors.js';
import type { InferRequest, InferResponse, TensorData } from '../protocol/types.js';
import { type Checkpoint, checkpointPath, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { type InputFormat, type InputPosition, type InputRecord, formatOfPath, openInput } from './input.js';
import type { RowInferrer } from './inferrer.js';
import { type OutputColumn, type OutputFormat, type OutputWriter, openOutput, outputColumns } from './output.js';
import { type ColumnMapping, type MappedRow, RowError, RowMapper } from './row-mapping.js';
import { AppendFile } from './text-file.js';

/** What a batch job does: one model, one input file, one output file. */
export interface BatchJobSpec {
  model: string;
  version?: string;
  input: string;
  output: string;
  inputFormat?: InputFormat;
  outputFormat?: OutputFormat;
  /** The column that identifies a row in the output (default `id`; rows are numbered as `row` when absent). */
  idColumn?: string;
  columns?: ColumnMapping;
  /** Bad rows go here (default OUTPUT.errors.jsonl). */
  errors?: string;
  /** Fail the job once more rows than this are bad (default: never). */
  maxErrors?: number;
  /** Rows per request (default the model's max_batch_size). */
  rowsPerRequest?: number;
  /** Share of the model's worker slots kept while interactive requests wait (jobs API; default 0.5). */
  share?: number;
}

export type JobState = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'INTERRUPTED';

/** How far a job is: rows written and failed, the fraction of the input read, its speed and ETA. */
export interface JobProgress {
  rowsDone: number;
  rowsFailed: number;
  /** 0..1, by bytes of the input read (rows for Parquet). */
  fraction: number;
  rowsPerSecond: number;
  etaSeconds: number | undefined;
}

export interface BatchJobOptions {
  /** Continue from the output's checkpoint. */
  resume?: boolean;
  /** Replace an existing output (and its checkpoint) instead of refusing. */
  overwrite?: boolean;
  /** Longest time between checkpoints (ms; default 500). */
  checkpointIntervalMs?: number;
  onProgress?: (p: JobProgress) => void;
}

/** The error file of an output. */
export function errorsPath(spec: BatchJobSpec): string {
  return spec.errors ?? `${spec.output}.errors.jsonl`;
}

/** A job that cannot start or go on as asked (bad spec, a checkpoint of another job, too many bad rows). */
export class JobError extends Error {}

/** Output text kept in memory before it is appended (characters). */
const FLUSH_BYTES = 1 << 20;

/** Requests of a chunk read ahead while earlier ones are in flight (the output is written in order). */
const WINDOW = 16;

/** The outcome of one chunk of input, in input order, ready to be written. */
interface ChunkOutcome {
  text: string;
  errors: string;
  rowsDone: number;
  rowsFailed: number;
  end: InputPosition;
}

/**
 * A batch prediction job: reads the input in chunks, sends each as one request of many rows
 * through the model's batcher, writes one output row per input row in input order, and
 * checkpoints atomically (input position, output and error file lengths) so that a job
 * killed at any point resumes with every row exactly once.
 */
export class BatchJob {
  private stopping = false;
  private rowsDone = 0;
  private rowsFailed = 0;
  private fraction = 0;
  private startedAt = 0;
  private startFraction = 0;
  private rowsThisRun = 0;

  constructor(
    readonly spec: BatchJobSpec,
    private readonly inferrer: RowInferrer,
    private readonly opts: BatchJobOptions = {},
  ) {}

  /** Asks the job to stop after the requests in flight; it checkpoints and `run` resolves 'CANCELLED'. */
  stop(): void {
    this.stopping = true;
  }

  progress(): JobProgress {
    const secs = this.startedAt ? (Date.now() - this.startedAt) / 1000 : 0;
    const rate = secs > 0 ? this.rowsThisRun / secs : 0;
    const gained = this.fraction - this.startFraction;
    const eta = secs > 0.2 && gained > 0 ? ((1 - this.fraction) * secs) / gained : undefined;
    return { rowsDone: this.rowsDone, rowsFailed: this.rowsFailed, fraction: this.fraction, rowsPerSecond: rate, etaSeconds: eta };
  }

  /** Runs (or resumes) the job to its end: SUCCEEDED, or CANCELLED when stopped; throws when it fails. */
  async run(): Promise<'SUCCEEDED' | 'CANCELLED'> {
    const spec = this.spec;
    const inputFormat = spec.inputFormat ?? formatOfPath(spec.input);
    if (!inputFormat) throw new JobError(`input '${spec.input}': say its format (csv, jsonl or parquet); the file name does not tell`);
    const outputFormat = spec.outputFormat ?? (formatOfPath(spec.output) as OutputFormat | undefined);
    if (!outputFormat) throw new JobError(`output '${spec.output}': say its format (jsonl, csv or parquet); the file name does not tell`);
    const inputStat = await stat(spec.input).catch(() => {
      throw new JobError(`input '${spec.input}' does not exist or cannot be read`);
    });
    const identity = `${inputStat.size}:${Math.round(inputStat.mtimeMs)}`;
    const jobKey = JSON.stringify({
      model: spec.model, version: spec.version ?? null, input: resolve(spec.input), inputFormat, outputFormat,
      idColumn: spec.idColumn ?? null, columns: spec.columns ?? null, errors: resolve(errorsPath(spec)),
    });
    const ckPath = checkpointPath(spec.output);
    const previous = await this.previousCheckpoint(ckPath, jobKey, identity);
    if (previous?.done) {
      this.rowsDone = previous.rowsDone;
      this.rowsFailed = previous.rowsFailed;
      this.fraction = 1;
      return 'SUCCEEDED';
    }

    const sig = await this.inferrer.signature();
    const rowsPerRequest = spec.rowsPerRequest ?? (sig.maxBatchSize > 0 ? sig.maxBatchSize : 1);
    if (sig.maxBatchSize > 0 && rowsPerRequest > sig.maxBatchSize) {
      throw new JobError(`rows per request ${rowsPerRequest} is more than the model's max_batch_size ${sig.maxBatchSize}`);
    }
    if (sig.maxBatchSize === 0 && rowsPerRequest !== 1) throw new JobError(`model '${spec.model}' does not batch: one row per request`);
    const input = await openInput(spec.input, inputFormat, previous?.input);
    let output: OutputWriter | undefined;
    let errors: AppendFile | undefined;
    try {
      let mapper: RowMapper;
      try {
        mapper = new RowMapper(sig, { columns: spec.columns, idColumn: spec.idColumn, idColumnRequired: spec.idColumn !== undefined, header: input.header });
      } catch (err) {
        throw new JobError((err as Error).message);
      }
      const columns = outputColumns(sig.outputs, sig.maxBatchSize);
      try {
        output = await openOutput(spec.output, outputFormat, { idName: mapper.idColumn ?? 'row', columns, resumeAt: previous?.outputBytes });
      } catch (err) {
        throw new JobError((err as Error).message);
      }
      errors = await AppendFile.open(errorsPath(spec), previous?.errorBytes);
      this.rowsDone = previous?.rowsDone ?? 0;
      this.rowsFailed = previous?.rowsFailed ?? 0;
      const ck: Checkpoint = {
        version: 1, job: jobKey, inputIdentity: identity, input: input.position(),
        outputBytes: output.bytes, errorBytes: errors.bytes, rowsDone: this.rowsDone, rowsFailed: this.rowsFailed, done: false,
      };
      // Rows are written in large appends (a checkpoint flushes them first): one write per chunk
      // of 64 rows would cost more than the rows.
      let bufOut: string[] = [];
      let bufErr: string[] = [];
      let buffered = 0;
      const flush = async () => {
        if (bufOut.length) await output!.append(bufOut.join(''));
        if (bufErr.length) await errors!.append(bufErr.join(''));
        bufOut = [];
        bufErr = [];
        buffered = 0;
      };
      const save = async (done: boolean) => {
        await flush();
        await output!.sync();
        await errors!.sync();
        Object.assign(ck, { outputBytes: output!.bytes, errorBytes: errors!.bytes, rowsDone: this.rowsDone, rowsFailed: this.rowsFailed, done });
        await writeCheckpoint(ckPath, ck);
      };
      await save(false);
      this.fraction = input.total > 0 ? input.position().offset / input.total : 1;
      this.startFraction = this.fraction;
      this.startedAt = Date.now();
      const chunker = new ChunkRunner(this.inferrer, mapper, columns, output, inputFormat, basename(spec.input), mapper.idColumn === undefined ? (inputFormat === 'csv' ? 1 : 0) : undefined);
      const interval = this.opts.checkpointIntervalMs ?? 500;
      let lastSave = Date.now();
      const window: Promise<ChunkOutcome>[] = [];
      const writeNext = async () => {
        const o = await window.shift()!;
        if (o.text) bufOut.push(o.text);
        if (o.errors) bufErr.push(o.errors);
        buffered += o.text.length + o.errors.length;
        if (buffered >= FLUSH_BYTES) await flush();
        this.rowsDone += o.rowsDone;
        this.rowsFailed += o.rowsFailed;
        this.rowsThisRun += o.rowsDone + o.rowsFailed;
        ck.input = o.end;
        this.fraction = input.total > 0 ? o.end.offset / input.total : 1;
        if (spec.maxErrors !== undefined && this.rowsFailed > spec.maxErrors) {
          await save(false);
          throw new JobError(`${this.rowsFailed} bad rows, more than --max-errors ${spec.maxErrors}; see ${errorsPath(spec)}`);
        }
        if (Date.now() - lastSave >= interval) {
          await save(false);
          lastSave = Date.now();
          this.opts.onProgress?.(this.progress());
        }
      };
      try {
        for (;;) {
          if (this.stopping) break;
          const records = await input.read(rowsPerRequest);
          if (records.length === 0) break;
          const p = chunker.run(records, input.position());
          p.catch(() => {}); // handled when written, in order
          window.push(p);
          while (window.length >= WINDOW) await writeNext();
        }
        while (window.length) await writeNext();
      } catch (err) {
        await Promise.allSettled(window);
        // Keep what was answered before the failure: the checkpoint covers exactly those rows.
        if (!(err instanceof JobError)) await save(false).catch(() => {});
        throw err;
      }
      if (this.stopping) {
        await save(false);
        this.opts.onProgress?.(this.progress());
        return 'CANCELLED';
      }
      await save(false);
      await output.finish();
      await save(true);
      await output.cleanup();
      this.fraction = 1;
      this.opts.onProgress?.(this.progress());
      return 'SUCCEEDED';
    } finally {
      await input.close();
      await output?.close().catch(() => {});
      await errors?.close().catch(() => {});
    }
  }

  /** The checkpoint to resume from, after checking it belongs to this job; refuses to clobber an output. */
  private async previousCheckpoint(ckPath: string, jobKey: string, identity: string): Promise<Checkpoint | undefined> {
    const existing = await readCheckpoint(ckPath);
    const outputExists = await stat(this.spec.output).then(() => true, () => false);
    if (!this.opts.resume) {
      if ((existing || outputExists) && !this.opts.overwrite) {
        throw new JobError(`output '${this.spec.output}' already exists${existing ? ' with a checkpoint' : ''}: pass --resume to continue that job, or --overwrite to start again`);
      }
      return undefined;
    }
    if (!existing) {
      if (outputExists) throw new JobError(`--resume: output '${this.spec.output}' has no checkpoint (${ckPath}); pass --overwrite to start again`);
      return undefined;
    }
    if (existing.job !== jobKey) throw new JobError(`--resume: the checkpoint ${ckPath} is of another job (${existing.job}); use the same model, files and columns, or --overwrite`);
    if (existing.inputIdentity !== identity) throw new JobError(`--resume: input '${this.spec.input}' changed since the checkpoint was written; start again with --overwrite`);
    return existing;
  }
}

/** Turns one chunk of records into output text: requests of many rows, bad rows isolated. */
class ChunkRunner {
  private readonly priority: number | undefined;

  constructor(
    private readonly inferrer: RowInferrer,
    private readonly mapper: RowMapper,
    private readonly columns: OutputColumn[],
    private readonly output: OutputWriter,
    private readonly format: InputFormat,
    private readonly source: string,
    /** When rows have no id column: line number minus this is the row number (CSV's header is line 1). */
    private readonly numberRows: number | undefined,
  ) {
    this.priority = inferrer.backgroundPriority();
  }

  async run(records: InputRecord[], end: InputPosition): Promise<ChunkOutcome> {
    if (records.some((r) => r.kind === 'request')) return this.runRequests(records, end);
    // Each record's text, filled in as its group answers; errors kept in input order too.
    const texts = new Array<string>(records.length).fill('');
    const errs = new Array<string>(records.length).fill('');
    const groups = new Map<string, { rows: MappedRow[]; at: number[] }>();
    records.forEach((rec, i) => {
      try {
        const row = this.mapper.mapRow(rec);
        if (this.numberRows !== undefined) row.id = rec.line - this.numberRows;
        let g = groups.get(row.shapeKey);
        if (!g) groups.set(row.shapeKey, (g = { rows: [], at: [] }));
        g.rows.push(row);
        g.at.push(i);
      } catch (err) {
        if (!(err instanceof RowError)) throw err;
        errs[i] = errorLine(rec.line, undefined, err.message);
      }
    });
    await Promise.all([...groups.values()].map((g) => this.runGroup(g.rows, g.at, texts, errs)));
    let failed = 0;
    for (const e of errs) if (e) failed++;
    return { text: texts.join(''), errors: errs.join(''), rowsDone: records.length - failed, rowsFailed: failed, end };
  }

  /** Runs rows as one request; when the data fails it, each row alone, to find the bad ones. */
  private async runGroup(rows: MappedRow[], at: number[], texts: string[], errs: string[]): Promise<void> {
    let res: InferResponse;
    try {
      res = await this.inferrer.infer(this.request(rows));
    } catch (err) {
      const e = asInferError(err);
      if (!dataError(e)) throw e;
      if (rows.length === 1) {
        errs[at[0]] = errorLine(rows[0].line, rows[0].id, e.message);
        return;
      }
      await Promise.all(rows.map((r, i) => this.runGroup([r], [at[i]], texts, errs)));
      return;
    }
    const data: TensorData[] = [];
    const widths: number[] = [];
    for (const c of this.columns) {
      const t = res.outputs.find((o) => o.name === c.name);
      if (!t) throw new InferError('internal', `the answer lacks output '${c.name}'`);
      data.push(t.data);
      widths.push(rows.length > 0 ? t.data.length / rows.length : 0);
    }
    const out = { data, widths };
    rows.forEach((r, i) => {
      texts[at[i]] = this.output.rowsText([r.id], out, i);
    });
  }

  private request(rows: MappedRow[]): InferRequest {
    const req: InferRequest = { id: `${this.source}:${rows[0].line}`, inputs: this.mapper.tensors(rows) };
    if (this.priority !== undefined) req.parameters = { priority: this.priority };
    return req;
  }

  /** A JSONL file of OIP v2 requests: each line is sent as it is and answered by a response line. */
  private async runRequests(records: InputRecord[], end: InputPosition): Promise<ChunkOutcome> {
    const texts = new Array<string>(records.length).fill('');
    const errs = new Array<string>(records.length).fill('');
    await Promise.all(records.map(async (rec, i) => {
      let req: InferRequest;
      try {
        if (rec.kind !== 'request') throw new RowError(rec.kind === 'bad' ? rec.reason : 'a row line among OIP request lines: a file holds one or the other');
        req = decodeInferRequest(rec.request);
      } catch (err) {
        const e = err instanceof RowError ? err : asInferError(err);
        errs[i] = errorLine(rec.line, undefined, e.message);
        return;
      }
      req.id ??= `${this.source}:${rec.line}`;
      if (this.priority !== undefined) req.parameters = { priority: this.priority, ...req.parameters };
      try {
        const res = await this.inferrer.infer(req);
        texts[i] = this.output.responseText(encodeInferResponse(res, () => false).json);
      } catch (err) {
        const e = asInferError(err);
        if (!dataError(e)) throw e;
        errs[i] = errorLine(rec.line, req.id, e.message);
      }
    }));
    let failed = 0;
    for (const e of errs) if (e) failed++;
    return { text: texts.join(''), errors: errs.join(''), rowsDone: records.length - failed, rowsFailed: failed, end };
  }
}

/** Errors that belong to a row's data (and so to the error file), not to the gateway's state. */
function dataError(e: InferError): boolean {
  return e.kind === 'invalid_argument' || e.kind === 'internal' || e.kind === 'unsupported' || e instanceof UnknownEntityError;
}

function errorLine(line: number, id: unknown, reason: string): string {
  const o: Record<string, unknown> = { line };
  if (id !== undefined) o.id = typeof id === 'bigint' ? id.toString() : id;
  o.reason = reason;
  return `${JSON.stringify(o)}\n`;
}
