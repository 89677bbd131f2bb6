import type { Server, Socket } from 'node:net';

/**
 * A cap on a listener's open connections. Each connection holds a file descriptor, so
 * without a cap a client opening connections it never uses (or uses slowly) exhausts the
 * process's descriptors and every listener stops answering. Past the cap a new connection
 * is refused the listener's own way (an HTTP 503, an HTTP/2 GOAWAY) and closed without a
 * reset, while the connections already open keep being served.
 */

/** How long a refused connection is kept to read what the client sent, so that closing it sends FIN, not RST. */
export const LINGER_MS = 1000;

/** At most this many refused connections linger at once; past it they are closed at once. */
export const MAX_LINGERING = 256;

export interface ConnectionGate {
  /** Connections admitted and still open. */
  readonly open: number;
  /** Connections refused since start (for tests and logs). */
  readonly refused: number;
  /** The admitted connections, for draining. */
  readonly sockets: ReadonlySet<Socket>;
}

export interface GateOptions {
  /** Most connections open at once; 0 = no cap. */
  max: number;
  /** Bytes that tell a refused client why (a 503 answer, an HTTP/2 GOAWAY), written before closing. */
  refusal: () => string | Uint8Array;
}

/** Counts, admits and refuses connections; `admit` returns false when the socket was refused. */
export class ConnectionCounter implements ConnectionGate {
  readonly sockets = new Set<Socket>();
  refused = 0;
  private lingering = 0;

  constructor(private readonly opts: GateOptions) {}

  get open(): number {
    return this.sockets.size;
  }

  /** Admits the socket (tracked until it closes) or refuses it cleanly; false when refused. */
  admit(socket: Socket): boolean {
    if (this.opts.max > 0 && this.sockets.size >= this.opts.max) {
      this.refuse(socket);
      return false;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    return true;
  }

  private refuse(socket: Socket): void {
    this.refused++;
    socket.on('error', () => {});
    if (this.lingering >= MAX_LINGERING) {
      // A flood of refused connections: keep no more descriptors for them.
      socket.end(this.opts.refusal(), () => socket.destroy());
      return;
    }
    this.lingering++;
    socket.once('close', () => this.lingering--);
    lingerClose(socket, this.opts.refusal());
  }
}

/**
 * Writes a last answer, half-closes, and reads (discarding) until the client closes too or
 * LINGER_MS pass: a socket closed with unread bytes in its buffer sends the peer a reset,
 * which most clients report as an error without reading the answer.
 */
export function lingerClose(socket: Socket, last?: string | Uint8Array): void {
  socket.on('error', () => {});
  socket.on('data', () => {});
  socket.once('end', () => socket.destroy());
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.resume();
  if (last === undefined) socket.end();
  else socket.end(last);
}

/**
 * Puts the cap in front of a node:http (or any net-based) server: its own 'connection'
 * listeners then only see admitted sockets. Call before the server accepts connections.
 */
export function gateServer(server: Server, opts: GateOptions): ConnectionGate {
  const counter = new ConnectionCounter(opts);
  const inner = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    if (!counter.admit(socket)) return;
    for (const l of inner) l.call(server, socket);
  });
  return counter;
}
