import { type Socket, connect } from 'node:net';

/** A response as the load loop needs it: the status, and the body only when it is an error. */
export interface RawResponse {
  status: number;
  body?: Buffer;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * One keep-alive HTTP/1.1 connection that sends prebuilt request bytes one at a time and
 * parses just enough of each response (status, Content-Length or chunked framing) to know
 * where it ends. node:http costs several times more CPU per request, and on a small box the
 * load generator's own CPU is what caps the throughput it can measure (autocannon, the
 * independent check, works the same way).
 */
export class RawHttpConnection {
  private readonly socket: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (r: RawResponse) => void; reject: (e: Error) => void } | undefined;
  private ready: Promise<void>;
  private closed: Error | undefined;

  constructor(host: string, port: number) {
    this.socket = connect({ host, port, noDelay: true });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.ready.catch(() => {});
    this.socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.tryParse();
    });
    const fail = (err: Error) => {
      this.closed = err;
      this.waiting?.reject(err);
      this.waiting = undefined;
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail(this.closed ?? new Error('the server closed the connection')));
  }

  /** Sends one request (complete HTTP/1.1 bytes) and resolves when its response has arrived. */
  async send(request: Buffer): Promise<RawResponse> {
    await this.ready;
    if (this.closed) throw this.closed;
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  private tryParse(): void {
    const end = this.buf.indexOf(HEADER_END);
    if (end < 0 || !this.waiting) return;
    const head = this.buf.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const start = end + 4;
    const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let bodyEnd: number;
    let chunked = false;
    if (len) {
      bodyEnd = start + Number(len[1]);
      if (this.buf.length < bodyEnd) return;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const e = chunkedEnd(this.buf, start);
      if (e < 0) return;
      bodyEnd = e;
      chunked = true;
    } else {
      this.waiting.reject(new Error(`HTTP ${status}: response without Content-Length or chunked framing`));
      this.waiting = undefined;
      this.socket.destroy();
      return;
    }
    const w = this.waiting;
    this.waiting = undefined;
    const raw = this.buf.subarray(start, bodyEnd);
    const body = status === 200 ? undefined : chunked ? dechunk(raw) : Buffer.from(raw);
    this.buf = this.buf.length === bodyEnd ? Buffer.alloc(0) : this.buf.subarray(bodyEnd);
    w.resolve({ status, body });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Where a chunked body ends (after its last 0-length chunk), or -1 if not all here yet. */
function chunkedEnd(buf: Buffer, from: number): number {
  let p = from;
  for (;;) {
    const eol = buf.indexOf('\r\n', p);
    if (eol < 0) return -1;
    const size = parseInt(buf.toString('latin1', p, eol), 16);
    if (Number.isNaN(size)) return -1;
    if (size === 0) {
      const trailerEnd = buf.indexOf(HEADER_END, eol);
      return trailerEnd < 0 ? -1 : trailerEnd + 4;
    }
    p = eol + 2 + size + 2;
    if (p > buf.length) return -1;
  }
}

/** The payload of a complete chunked body. */
function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let p = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', p);
    const size = parseInt(raw.toString('latin1', p, eol), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    p = eol + 2 + size + 2;
  }
}

/** A set of keep-alive connections, one per request in flight. */
export class RawHttpPool {
  private readonly idle: RawHttpConnection[] = [];
  private readonly all = new Set<RawHttpConnection>();

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** Sends a request on an idle connection (opening one if none is idle). */
  async send(request: Buffer): Promise<RawResponse> {
    const c = this.idle.pop() ?? this.open();
    try {
      const r = await c.send(request);
      this.idle.push(c);
      return r;
    } catch (err) {
      this.all.delete(c);
      c.close();
      throw err;
    }
  }

  private open(): RawHttpConnection {
    const c = new RawHttpConnection(this.host, this.port);
    this.all.add(c);
    return c;
  }

  close(): void {
    for (const c of this.all) c.close();
    this.all.clear();
    this.idle.length = 0;
  }
}
