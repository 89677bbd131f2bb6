import { open, readFile, rename } from 'node:fs/promises';
import type { InputPosition } from './input.js';

/**
 * How far a job got, written atomically (temporary file, fsync, rename) after the output it
 * describes is durable: every input row before `input` is in the output's first `outputBytes`
 * bytes (or in the error file's first `errorBytes`), and no row after it is.
 */
export interface Checkpoint {
  version: 1;
  /** What the job is (model, files, mapping): a resume must be the same job. */
  job: string;
  /** The input file when the job started (size and modification time): it must not change. */
  inputIdentity: string;
  input: InputPosition;
  outputBytes: number;
  errorBytes: number;
  rowsDone: number;
  rowsFailed: number;
  /** True once every row is written (and a Parquet output completed). */
  done: boolean;
}

/** Where the checkpoint of an output file lives. */
export function checkpointPath(output: string): string {
  return `${output}.checkpoint.json`;
}

/** Reads a checkpoint, or undefined when there is none. */
export async function readCheckpoint(path: string): Promise<Checkpoint | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const c = JSON.parse(text) as Checkpoint;
  if (c.version !== 1 || typeof c.outputBytes !== 'number' || typeof c.input?.offset !== 'number') {
    throw new Error(`checkpoint '${path}' is not one this version of infergate wrote`);
  }
  return c;
}

/** Replaces the checkpoint atomically: a reader sees the old one or the new one, never a mix. */
export async function writeCheckpoint(path: string, c: Checkpoint): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(c));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
