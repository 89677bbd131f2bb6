import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { postJson, scratchRepository } from '../helpers/gateway.js';
import { textRequest } from '../helpers/text-encoder.js';
import { cliBuilt, startCli } from '../helpers/cli.js';

describe('SIGTERM', () => {
  // `npm test` builds dist/ first; the CLI is what a container runs, so drain is tested on it.
  it.skipIf(!cliBuilt)('drains: readiness false, new requests 503, in-flight ones finish, exit 0 (skipped only when dist/ is not built; npm test builds it)', async () => {
    const dir = scratchRepository(['text_encoder']);
    writeFileSync(join(dir, 'text_encoder', 'config.yaml'), 'max_batch_size: 16\ninstance_group: [{count: 1}]\n');
    const { child, url, output, exited } = await startCli(dir, ['--pool-size', '1']);
    expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);

    const inflight = [128, 127, 126].map((seq) => postJson(`${url}/v2/models/text_encoder/infer`, textRequest(16, seq)));
    await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    // On a loaded machine the signal may take a while to be handled: wait for the server to say so.
    while (!output().includes('SIGTERM received')) await new Promise((r) => setTimeout(r, 10));
    const ready = await fetch(`${url}/v2/health/ready`);
    expect(ready.status).toBe(400);
    const late = await postJson(`${url}/v2/models/text_encoder/infer`, textRequest(1, 8));
    expect(late.status).toBe(503);
    expect(late.body.error).toMatch(/shutting down/);

    const results = await Promise.all(inflight);
    results.forEach((r) => expect(r.status, JSON.stringify(r.body)).toBe(200));
    expect(await exited).toBe(0);
    expect(output()).toMatch(/drained, all in-flight requests finished/);
  });
});
