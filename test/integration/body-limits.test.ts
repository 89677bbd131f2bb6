import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, cliBuilt, startCli } from '../helpers/cli.js';
import { rawConnect, statuses, waitFor } from '../helpers/raw-http.js';
import { MODELS, postJson } from '../helpers/gateway.js';
import { goldenFiles } from '../helpers/golden.js';

let cli: RunningCli;
const tab = goldenFiles().find((g) => g.model === 'tabular_mlp' && g.version === '1')!;

beforeAll(async () => {
  cli = await startCli(MODELS, ['--model-control-mode', 'explicit', '--load-model', 'tabular_mlp']);
});
afterAll(() => {
  cli?.child.kill('SIGKILL');
});

const HEAD = '{"inputs":[{"name":"features","datatype":"FP32","shape":[1000000,30],"data":[';

/** Sends only the headers and the first bytes of a body announced as `length` bytes; resolves with the answer (which can only come before the body). */
function announce(path: string, length: number): Promise<{ status: number; body: string }> {
  const url = new URL(path, cli.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': length } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.write(HEAD);
  });
}

/** Streams a chunked body (no Content-Length) of numbers, 64 KiB a chunk, until an answer arrives or `max` bytes are sent. */
async function streamChunked(path: string, max: number, base = cli.url): Promise<{ status: number; body: string; sentBytes: number }> {
  const c = await rawConnect(Number(new URL(base).port));
  const piece = '0.5,'.repeat(16_384);
  const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
  c.socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(HEAD)}`);
  let sent = 0;
  while (c.received() === '' && !c.socket.destroyed && sent < max) {
    sent += piece.length;
    if (!c.socket.write(chunk(piece))) await new Promise((r) => { c.socket.once('drain', r); c.socket.once('close', r); });
  }
  if (!c.socket.destroyed && c.received() === '') c.socket.write(`${chunk('0]}]}')}0\r\n\r\n`);
  await waitFor(() => /\r\n\r\n\{.*\}/s.test(c.received()) || c.socket.destroyed, 'an answer to the chunked body');
  c.socket.destroy();
  const raw = c.received();
  return { status: statuses(raw)[0] ?? 0, body: raw.slice(raw.indexOf('\r\n\r\n') + 4), sentBytes: sent };
}

describe.skipIf(!cliBuilt)('request size against the model signature (built CLI)', () => {
  it('refuses a body larger than any valid request to the model before reading it, and keeps serving', async () => {
    // tabular_mlp: at most 64 rows of 30 FP32; a [1000000, 30] JSON body is about 60 MB.
    const bomb = announce('/v2/models/tabular_mlp/infer', 60_000_000);
    const served = await postJson(`${cli.url}/v2/models/tabular_mlp/infer`, tab.cases[0].request);
    const r = await bomb;
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error).toMatch(/larger than any valid request to model 'tabular_mlp'/);
    expect(served.status).toBe(200);
  });

  it('refuses a chunked body (no Content-Length) once its bytes pass that bound, without reading the rest', async () => {
    const bomb = streamChunked('/v2/models/tabular_mlp/infer', 60_000_000);
    const served = await postJson(`${cli.url}/v2/models/tabular_mlp/infer`, tab.cases[0].request);
    const r = await bomb;
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error).toMatch(/request body of at least \d+ bytes is larger than any valid request to model 'tabular_mlp'/);
    // The bound for 64 rows of 30 FP32 is tens of KB; the answer comes long before the 60 MB
    // (while it travels the server drops what the client still sends, so this is not tighter).
    expect(r.sentBytes).toBeLessThan(50_000_000);
    expect(served.status).toBe(200);
  });

  it('still takes the largest valid request', async () => {
    const row = tab.cases[0].request.inputs[0].data as number[];
    const res = await postJson(`${cli.url}/v2/models/tabular_mlp/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [64, 30], data: Array.from({ length: 64 }, () => row).flat() }] });
    expect(res.status).toBe(200);
    expect(res.body.outputs[0].shape).toEqual([64, 2]);
  });
});

describe.skipIf(!cliBuilt)('the server-wide body limit (built CLI)', () => {
  let small: RunningCli;
  beforeAll(async () => {
    // Below tabular_mlp's own bound (about 100 KB), so the server-wide limit answers.
    small = await startCli(MODELS, ['--model-control-mode', 'explicit', '--load-model', 'tabular_mlp', '--http-body-limit', '50000']);
  });
  afterAll(() => {
    small?.child.kill('SIGKILL');
  });

  it('answers a chunked body past it with its 413, which the client reads before the connection closes', async () => {
    const r = await streamChunked('/v2/models/tabular_mlp/infer', 60_000_000, small.url);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error).toMatch(/larger than the server's limit of 50000 bytes/);
    expect((await postJson(`${small.url}/v2/models/tabular_mlp/infer`, tab.cases[0].request)).status).toBe(200);
  });
});
