import { randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { InferDeps } from '../core/infer-call.js';
import type { BackgroundLoop } from '../front-end.js';
import { notFound } from '../protocol/errors.js';
import { BatchJob, type BatchJobSpec, type JobProgress, type JobState, errorsPath } from './batch-job.js';
import { InProcessInferrer } from './inferrer.js';

/** A job as the store keeps it (one JSON file per job, replaced atomically). */
export interface JobRecord {
  id: string;
  state: JobState;
  spec: BatchJobSpec;
  created_at: string;
  started_at?: string;
  finished_at?: string;
  error?: string;
  progress: JobProgress;
}

const EMPTY: JobProgress = { rowsDone: 0, rowsFailed: 0, fraction: 0, rowsPerSecond: 0, etaSeconds: undefined };
/** How often a running job's progress is saved to its record (ms). */
const SAVE_EVERY_MS = 2000;

/**
 * Batch jobs submitted to a serving gateway: kept as records under the jobs folder, run one at
 * a time in this process (source `batch`, within the model's background share), cancelled on
 * request, checkpointed and marked INTERRUPTED on shutdown, and resumed from their checkpoint
 * when the gateway starts again (also after a kill -9, when the record still says RUNNING).
 */
export class JobManager implements BackgroundLoop {
  readonly name = 'batch jobs';
  private readonly records = new Map<string, JobRecord>();
  private readonly queue: string[] = [];
  /** Jobs that ran before (in an earlier process): they continue from their checkpoint. */
  private readonly resumable = new Set<string>();
  private current: { id: string; job: BatchJob } | undefined;
  private runner: Promise<void> | undefined;
  private stopping = false;
  private readonly recordsDir: string;

  constructor(readonly dir: string, private readonly deps: InferDeps) {
    this.recordsDir = join(dir, '.jobs');
  }

  async start(): Promise<void> {
    // Nothing is created until a job is submitted: a gateway that runs no job leaves no folder.
    const files = (await readdir(this.recordsDir).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
    const loaded: JobRecord[] = [];
    for (const f of files) {
      try {
        loaded.push(JSON.parse(await readFile(join(this.recordsDir, f), 'utf8')) as JobRecord);
      } catch (err) {
        this.deps.log.warn(`jobs: record ${f} cannot be read, skipped: ${(err as Error).message}`);
      }
    }
    loaded.sort((a, b) => a.created_at.localeCompare(b.created_at));
    for (const r of loaded) {
      this.records.set(r.id, r);
      if (r.state === 'RUNNING' || r.state === 'INTERRUPTED') {
        this.resumable.add(r.id);
        r.state = 'QUEUED';
        this.queue.push(r.id);
      } else if (r.state === 'QUEUED') this.queue.push(r.id);
    }
    if (this.resumable.size) this.deps.log.info(`jobs: resuming ${this.resumable.size} interrupted job(s) from their checkpoints`);
    this.kick();
  }

  /** Stops the running job after its requests in flight (checkpointed, INTERRUPTED) and runs no more. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.current?.job.stop();
    await this.runner;
  }

  /** Records a new job and queues it. */
  async submit(spec: BatchJobSpec): Promise<JobRecord> {
    const r: JobRecord = { id: randomUUID(), state: 'QUEUED', spec, created_at: new Date().toISOString(), progress: { ...EMPTY } };
    await this.save(r);
    this.records.set(r.id, r);
    this.queue.push(r.id);
    this.kick();
    return r;
  }

  get(id: string): JobRecord {
    const r = this.records.get(id);
    if (!r) throw notFound(`no job '${id}'`);
    if (this.current?.id === id) r.progress = this.current.job.progress();
    return r;
  }

  list(): JobRecord[] {
    return [...this.records.keys()].map((id) => this.get(id));
  }

  /** Cancels a queued or running job (a running one stops after its requests in flight, checkpointed). */
  async cancel(id: string): Promise<JobRecord> {
    const r = this.get(id);
    if (r.state === 'QUEUED') {
      this.queue.splice(this.queue.indexOf(id), 1);
      await this.finish(r, 'CANCELLED');
    } else if (r.state === 'RUNNING' && this.current?.id === id) {
      this.cancelled.add(id);
      this.current.job.stop();
    }
    return r;
  }

  private readonly cancelled = new Set<string>();

  /** A job's view in the API: paths relative to the jobs folder. */
  view(r: JobRecord): Record<string, unknown> {
    const rel = (p: string) => relative(this.dir, p);
    const p = r.progress;
    return {
      id: r.id, state: r.state, model: r.spec.model, version: r.spec.version ?? null,
      input: rel(r.spec.input), output: rel(r.spec.output), errors: rel(errorsPath(r.spec)),
      created_at: r.created_at, started_at: r.started_at ?? null, finished_at: r.finished_at ?? null, error: r.error ?? null,
      progress: {
        rows_done: p.rowsDone, rows_failed: p.rowsFailed, fraction: Number(p.fraction.toFixed(4)),
        rows_per_second: Math.round(p.rowsPerSecond), eta_seconds: p.etaSeconds === undefined ? null : Math.round(p.etaSeconds),
      },
    };
  }

  private kick(): void {
    if (this.runner || this.stopping) return;
    this.runner = this.drain().finally(() => {
      this.runner = undefined;
      if (this.queue.length && !this.stopping) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length && !this.stopping) {
      const id = this.queue.shift()!;
      const r = this.records.get(id)!;
      await this.runOne(r);
    }
  }

  private async runOne(r: JobRecord): Promise<void> {
    const inferrer = new InProcessInferrer(this.deps, r.spec.model, r.spec.version, { source: 'batch', share: r.spec.share });
    const resume = this.resumable.delete(r.id);
    const job = new BatchJob(r.spec, inferrer, { resume });
    this.current = { id: r.id, job };
    r.state = 'RUNNING';
    r.started_at ??= new Date().toISOString();
    await this.save(r);
    const timer = setInterval(() => {
      r.progress = job.progress();
      void this.save(r).catch(() => {});
    }, SAVE_EVERY_MS);
    timer.unref();
    try {
      const state = await job.run();
      r.progress = job.progress();
      if (state === 'SUCCEEDED') await this.finish(r, 'SUCCEEDED');
      else if (this.cancelled.delete(r.id)) await this.finish(r, 'CANCELLED');
      else {
        r.state = 'INTERRUPTED';
        await this.save(r);
      }
    } catch (err) {
      r.progress = job.progress();
      r.error = (err as Error).message;
      this.deps.log.warn(`job ${r.id} failed: ${r.error}`);
      await this.finish(r, 'FAILED');
    } finally {
      clearInterval(timer);
      this.current = undefined;
    }
  }

  private async finish(r: JobRecord, state: JobState): Promise<void> {
    r.state = state;
    r.finished_at = new Date().toISOString();
    await this.save(r);
  }

  /** Writes a record atomically (temporary file, then rename). */
  private saving: Promise<void> = Promise.resolve();
  private save(r: JobRecord): Promise<void> {
    const text = JSON.stringify(r);
    this.saving = this.saving.catch(() => {}).then(async () => {
      await mkdir(this.recordsDir, { recursive: true });
      const path = join(this.recordsDir, `${r.id}.json`);
      await writeFile(`${path}.tmp`, text);
      await rename(`${path}.tmp`, path);
    });
    return this.saving;
  }
}
