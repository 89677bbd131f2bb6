import { type Socket, connect } from 'node:net';

/** A raw TCP connection to an HTTP listener, recording what came back and how it ended. */
export interface RawConnection {
  socket: Socket;
  /** Everything received so far. */
  received(): string;
  /** Resolves when the connection has closed: `reset` when it ended in an error (ECONNRESET, EPIPE). */
  closed: Promise<{ reset: boolean; error?: string }>;
  /** Whether the server half-closed (sent FIN). */
  gotFin(): boolean;
}

/** Opens a connection and waits until it is established. */
export async function rawConnect(port: number, host = '127.0.0.1'): Promise<RawConnection> {
  const socket = connect(port, host);
  let data = '';
  let fin = false;
  let error: string | undefined;
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (data += d));
  socket.on('end', () => (fin = true));
  socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  const closed = new Promise<{ reset: boolean; error?: string }>((r) => socket.on('close', () => r({ reset: error !== undefined, error })));
  await new Promise<void>((ok, fail) => {
    socket.once('connect', () => ok());
    socket.once('error', fail);
  });
  return { socket, received: () => data, closed, gotFin: () => fin };
}

/** Status codes of the HTTP responses in a raw byte string, in order. */
export function statuses(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

/** Sends one request on a raw connection and waits for `n` responses in total to have arrived. */
export async function rawRequest(c: RawConnection, text: string, n: number): Promise<void> {
  c.socket.write(text);
  while (statuses(c.received()).length < n && !c.socket.destroyed) await new Promise((r) => setTimeout(r, 5));
}

/** A GET with keep-alive, as raw text. */
export const getText = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

/** A POST of a JSON body with keep-alive, as raw text. */
export function postText(path: string, body: unknown): string {
  const json = JSON.stringify(body);
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
}

/** Waits until `predicate` holds, polling; throws with `what` after `ms` (a guard against hangs, not a timing assertion). */
export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
