import { Agent, request } from 'node:http';
import { type Client, Metadata, type ServiceError } from '@grpc/grpc-js';
import type { MalformedCase } from './malformed.js';

/** What one malformed request got: an HTTP status, or a gRPC code mapped the way HTTP_STATUS maps kinds. */
export interface FuzzOutcome {
  index: number;
  kind: MalformedCase['kind'];
  status: number;
  error?: string;
}

/** gRPC status codes -> the HTTP status of the same error kind (src/protocol/errors.ts), for one histogram. */
const GRPC_AS_HTTP: Record<number, number> = { 0: 200, 1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 8: 413, 12: 400, 13: 500, 14: 503 };

/** Sends one HTTP case on a keep-alive agent; a transport error counts as status 0. */
export function sendHttp(baseUrl: string, agent: Agent, c: Extract<MalformedCase, { kind: 'http' }>): Promise<{ status: number; body: string }> {
  const u = new URL(baseUrl);
  return new Promise((resolve) => {
    const req = request({ host: u.hostname, port: u.port, path: c.path, method: 'POST', headers: c.headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (e) => resolve({ status: 0, body: String(e) }));
    });
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
    req.end(c.body);
  });
}

/** Sends one gRPC case as a unary ModelInfer with a deadline. */
export function sendGrpc(client: Client, c: Extract<MalformedCase, { kind: 'grpc' }>): Promise<{ status: number; body: string }> {
  const fn = (client as unknown as Record<string, (req: unknown, md: Metadata, opts: object, cb: (err: ServiceError | null) => void) => void>).ModelInfer.bind(client);
  return new Promise((resolve) => {
    fn(c.request, new Metadata(), { deadline: new Date(Date.now() + 30_000) }, (err) =>
      resolve(err ? { status: GRPC_AS_HTTP[err.code] ?? 500, body: `${err.code} ${err.details}` } : { status: 200, body: '' }));
  });
}

/** Sends every case, `concurrency` at a time, and returns each outcome. */
export async function runCases(cases: MalformedCase[], httpUrl: string, grpc: Client | undefined, concurrency = 8): Promise<FuzzOutcome[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const out: FuzzOutcome[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const index = next++;
      const c = cases[index];
      const r = c.kind === 'http' ? await sendHttp(httpUrl, agent, c) : grpc ? await sendGrpc(grpc, c) : { status: -1, body: 'no gRPC client' };
      out[index] = { index, kind: c.kind, status: r.status, error: r.status >= 500 || r.status === 0 ? r.body.slice(0, 300) : undefined };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return out;
}
