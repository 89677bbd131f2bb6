import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, cliBuilt, startCli } from '../helpers/cli.js';
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

/** Sends only the headers and the first bytes of a body announced as `length` bytes; resolves with the answer. */
function announce(path: string, length: number): Promise<{ status: number; body: string; sentBytes: number }> {
  const url = new URL(path, cli.url);
  return new Promise((resolve, reject) => {
    let sent = 0;
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': length } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, sentBytes: sent }));
    });
    req.on('error', reject);
    const head = '{"inputs":[{"name":"features","datatype":"FP32","shape":[1000000,30],"data":[';
    req.write(head);
    sent = head.length;
  });
}

describe.skipIf(!cliBuilt)('request size against the model signature (built CLI)', () => {
  it('refuses a body larger than any valid request to the model before reading it, and keeps serving', async () => {
    // tabular_mlp: at most 64 rows of 30 FP32; a [1000000, 30] JSON body is about 60 MB.
    const bomb = announce('/v2/models/tabular_mlp/infer', 60_000_000);
    const served = await postJson(`${cli.url}/v2/models/tabular_mlp/infer`, tab.cases[0].request);
    const r = await bomb;
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error).toMatch(/larger than any valid request to model 'tabular_mlp'/);
    expect(r.sentBytes).toBeLessThan(200);
    expect(served.status).toBe(200);
  });

  it('still takes the largest valid request', async () => {
    const row = tab.cases[0].request.inputs[0].data as number[];
    const res = await postJson(`${cli.url}/v2/models/tabular_mlp/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [64, 30], data: Array.from({ length: 64 }, () => row).flat() }] });
    expect(res.status).toBe(200);
    expect(res.body.outputs[0].shape).toEqual([64, 2]);
  });
});
