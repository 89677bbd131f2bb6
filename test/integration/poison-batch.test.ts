import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, cliBuilt, startCli } from '../helpers/cli.js';
import { MODELS, postJson } from '../helpers/gateway.js';
import { textRequest } from '../helpers/text-encoder.js';

let cli: RunningCli;

beforeAll(async () => {
  cli = await startCli(MODELS, ['--model-control-mode', 'explicit', '--load-model', 'text_encoder', '--pool-size', '2']);
});
afterAll(async () => {
  cli?.child.kill('SIGKILL');
});

/** A text_encoder request with one token id outside the vocabulary (8192 ids): onnxruntime refuses the batch it is in. */
function poisoned(k: number) {
  const req = textRequest(1, 16, {}, `poison-${k}`);
  (req.inputs[0].data as number[])[5] = 9000 + k;
  return req;
}

describe.skipIf(!cliBuilt)('one bad request in a batch (built CLI)', () => {
  it('fails only the request that causes it, with an error naming its own value', async () => {
    const clients = 32;
    const perClient = 22;
    const valid: Promise<{ status: number }>[] = [];
    const bad: { k: number; res: Promise<{ status: number; body: { error: string } }> }[] = [];
    let k = 0;
    await Promise.all(Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < perClient; i++) {
        if ((c * perClient + i) % 11 === 5) {
          const n = k++;
          const res = postJson(`${cli.url}/v2/models/text_encoder/infer`, poisoned(n));
          bad.push({ k: n, res });
          await res;
        } else {
          const res = postJson(`${cli.url}/v2/models/text_encoder/infer`, textRequest(1 + (i % 3), 16, {}, `ok-${c}-${i}`));
          valid.push(res);
          await res;
        }
      }
    }));
    const okStatuses = await Promise.all(valid);
    expect(okStatuses.filter((r) => r.status !== 200)).toEqual([]);
    expect(bad.length).toBe(64);
    for (const b of bad) {
      const r = await b.res;
      expect(r.status, `poison ${b.k}`).toBe(400);
      expect(r.body.error, `poison ${b.k}`).toContain(String(9000 + b.k));
      // Never another request's value.
      const others = [...r.body.error.matchAll(/9\d{3}/g)].map((m) => Number(m[0])).filter((v) => v !== 9000 + b.k && v >= 9000 && v < 9000 + bad.length);
      expect(others, `poison ${b.k}`).toEqual([]);
    }
    // The load formed batches of several requests (else nothing was isolated): executions of more than one row happened.
    const stats = (await (await fetch(`${cli.url}/v2/models/text_encoder/stats`)).json()) as { model_stats: { batch_stats: { batch_size: number }[] }[] };
    expect(Math.max(...stats.model_stats[0].batch_stats.map((b) => b.batch_size))).toBeGreaterThan(3);
  });
});
