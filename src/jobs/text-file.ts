import { type FileHandle, open } from 'node:fs/promises';

/**
 * A file a job appends to, knowing its length: the checkpoint records that length, and a
 * resumed job cuts the file back to it, dropping whatever was written after the checkpoint.
 */
export class AppendFile {
  private constructor(
    private readonly fh: FileHandle,
    private length: number,
    readonly path: string,
  ) {}

  /** Opens for appending: fresh (emptied) when `resumeAt` is undefined, else cut back to `resumeAt` bytes. */
  static async open(path: string, resumeAt?: number): Promise<AppendFile> {
    if (resumeAt === undefined) return new AppendFile(await open(path, 'w'), 0, path);
    const fh = await open(path, 'r+').catch(async (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && resumeAt === 0) return open(path, 'w');
      throw err;
    });
    const { size } = await fh.stat();
    if (size < resumeAt) {
      await fh.close();
      throw new Error(`'${path}' holds ${size} bytes but the checkpoint says ${resumeAt} were written: it was changed or cut since; start the job again without --resume`);
    }
    await fh.truncate(resumeAt);
    return new AppendFile(fh, resumeAt, path);
  }

  /** Bytes in the file. */
  get bytes(): number {
    return this.length;
  }

  async append(text: string): Promise<void> {
    if (!text) return;
    const buf = Buffer.from(text, 'utf8');
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, done, buf.length - done, this.length + done);
      done += bytesWritten;
    }
    this.length += buf.length;
  }

  /** Makes what was written durable (before a checkpoint names its length). */
  sync(): Promise<void> {
    return this.fh.datasync();
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
