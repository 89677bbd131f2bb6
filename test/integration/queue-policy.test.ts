import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { getJson, postJson, scratchRepository, startGateway } from '../helpers/gateway.js';
import { textRequest } from '../helpers/text-encoder.js';

let gw: Gateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

/** text_encoder with one instance, so one slow batch holds everything behind it in the queue. */
async function slowGateway(config: string): Promise<string> {
  const dir = scratchRepository(['text_encoder']);
  writeFileSync(join(dir, 'text_encoder', 'config.yaml'), config);
  const started = await startGateway({ modelRepository: dir });
  gw = started.gw;
  return `${started.url}/v2/models/text_encoder/infer`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One text_encoder instance, `dynamic_batching` from the test, and a slow batch (16 rows of
 * 128 tokens) already running when it returns, so the next requests queue behind it.
 */
async function behindSlowBatch(dynamicBatching: string): Promise<{ url: string; slow: Promise<{ status: number }> }> {
  const url = await slowGateway(`max_batch_size: 16\ninstance_group: [{count: 1}]\n${dynamicBatching ? `dynamic_batching:\n${dynamicBatching}` : ''}`);
  const slow = postJson(url, textRequest(16, 128));
  await sleep(30);
  return { url, slow };
}
const stats = async (url: string) => (await getJson(url.replace(/infer$/, 'stats'))).body.model_stats[0];

describe('queue policy', () => {
  it('rejects requests over max_queue_size with 503 "Exceeds maximum queue size" and serves the rest', async () => {
    const { url, slow } = await behindSlowBatch('  default_queue_policy: {max_queue_size: 2}\n');
    // Different sequence lengths cannot share a batch, so each waits on its own.
    const rest = await Promise.all([16, 17, 18, 19, 20].map((seq) => postJson(url, textRequest(1, seq))));
    expect((await slow).status).toBe(200);
    const statuses = rest.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 503, 503, 503]);
    for (const r of rest.filter((x) => x.status === 503)) expect(r.body.error).toBe('Exceeds maximum queue size');
    const s = await stats(url);
    expect(s.inference_stats.fail.count).toBe(3);
    expect(s.inference_stats.success.count).toBe(3);
  });

  it('drops a request whose timeout passes in the queue, never computing it', async () => {
    const { url, slow } = await behindSlowBatch('');
    const late = await postJson(url, textRequest(1, 32, { timeout: 1000 }));
    expect(late.status).toBe(503);
    expect(late.body.error).toBe('Request timeout expired');
    expect((await slow).status).toBe(200);
    const s = await stats(url);
    expect(s.inference_count).toBe(16);
    expect(s.execution_count).toBe(1);
    expect(s.inference_stats.fail.count).toBe(1);
  });

  it('applies the default queue timeout, and a request timeout may only lower it', async () => {
    const { url, slow } = await behindSlowBatch('  default_queue_policy: {default_timeout_microseconds: 2000, allow_timeout_override: true}\n');
    // Asking for a longer timeout than the default does not extend it.
    const late = await postJson(url, textRequest(1, 32, { timeout: 60_000_000 }));
    expect(late.status).toBe(503);
    expect(late.body.error).toBe('Request timeout expired');
    expect((await slow).status).toBe(200);
  });

  it('ignores request timeouts when allow_timeout_override is false', async () => {
    const { url, slow } = await behindSlowBatch('  default_queue_policy: {allow_timeout_override: false}\n');
    const late = await postJson(url, textRequest(1, 32, { timeout: 1000 }));
    expect(late.status).toBe(200);
    expect((await slow).status).toBe(200);
  });

  it('serves higher priority levels first', async () => {
    const { url, slow } = await behindSlowBatch('  priority_levels: 2\n  default_priority_level: 2\n');
    const order: string[] = [];
    const track = (id: string, p: Promise<{ status: number }>) => p.then((r) => { expect(r.status).toBe(200); order.push(id); });
    const low = track('low', postJson(url, textRequest(8, 100)));
    await sleep(10);
    const high = track('high', postJson(url, textRequest(8, 64, { priority: 1 })));
    await Promise.all([slow, low, high]);
    expect(order).toEqual(['high', 'low']);
    const bad = await postJson(url, textRequest(1, 8, { priority: 3 }));
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/priority 3 exceeds the model's 2 priority levels/);
  });

  it('a lone request does not wait out max_queue_delay', async () => {
    const url = await slowGateway('max_batch_size: 16\ndynamic_batching:\n  max_queue_delay_microseconds: 5000000\n');
    const res = await postJson(url, textRequest(1, 8));
    expect(res.status).toBe(200);
    // With nothing else waiting or running it went straight to a worker: its queue time is
    // nowhere near the 5 s delay.
    expect((await stats(url)).inference_stats.queue.ns).toBeLessThan(1e9);
  });

  it('holds requests up to max_queue_delay to fill a preferred batch while a batch runs', async () => {
    const url = await slowGateway(
      'max_batch_size: 16\ninstance_group: [{count: 1}]\ndynamic_batching:\n  preferred_batch_size: [4]\n  max_queue_delay_microseconds: 3000000\n',
    );
    const first = postJson(url, textRequest(16, 128));
    await sleep(5);
    const four = await Promise.all([0, 1, 2, 3].map(() => postJson(url, textRequest(1, 16))));
    four.forEach((r) => expect(r.status).toBe(200));
    await first;
    const s = await stats(url);
    // The four short requests left the queue together as one preferred-size batch.
    expect(s.batch_stats.find((b: { batch_size: number }) => b.batch_size === 4)?.compute_infer.count).toBe(1);
  });
});
