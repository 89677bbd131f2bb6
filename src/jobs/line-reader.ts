import { type FileHandle, open } from 'node:fs/promises';

/** One line of a text file and where the next one starts. */
export interface Line {
  /** 1-based line number in the file. */
  number: number;
  text: string;
  /** Byte offset just past this line's end (its `\n`): where reading resumes. */
  end: number;
}

const CHUNK = 1 << 20;

/**
 * Reads a text file line by line from a byte offset, telling each line's end offset, so that a
 * job can checkpoint exactly where it stopped and resume there.
 */
export class LineReader {
  private buf = Buffer.alloc(0);
  /** File offset of buf[0]. */
  private bufStart: number;
  private eof = false;
  private lineNo: number;

  private constructor(
    private readonly fh: FileHandle,
    offset: number,
    line: number,
    readonly size: number,
  ) {
    this.bufStart = offset;
    this.lineNo = line;
  }

  /** Opens `path` to read from byte `offset`, the next line being number `line + 1`. */
  static async open(path: string, offset = 0, line = 0): Promise<LineReader> {
    const fh = await open(path, 'r');
    const { size } = await fh.stat();
    return new LineReader(fh, offset, line, size);
  }

  /** Byte offset of the next unread line. */
  get offset(): number {
    return this.bufStart;
  }

  /** The next line (without its line break), or undefined at the end of the file. */
  async next(): Promise<Line | undefined> {
    for (;;) {
      const nl = this.buf.indexOf(0x0a);
      if (nl >= 0 || (this.eof && this.buf.length > 0)) {
        const cut = nl >= 0 ? nl : this.buf.length;
        let text = this.buf.toString('utf8', 0, cut);
        if (text.endsWith('\r')) text = text.slice(0, -1);
        const consumed = nl >= 0 ? nl + 1 : cut;
        this.buf = this.buf.subarray(consumed);
        this.bufStart += consumed;
        this.lineNo++;
        return { number: this.lineNo, text, end: this.bufStart };
      }
      if (this.eof) return undefined;
      await this.fill();
    }
  }

  private async fill(): Promise<void> {
    const chunk = Buffer.allocUnsafe(CHUNK);
    const { bytesRead } = await this.fh.read(chunk, 0, CHUNK, this.bufStart + this.buf.length);
    if (bytesRead === 0) {
      this.eof = true;
      return;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
