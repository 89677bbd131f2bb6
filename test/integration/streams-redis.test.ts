import { rmSync } from 'node:fs';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, cliBuilt, listenerUrl, startCli } from '../helpers/cli.js';
import { DATA_MISSING, REDIS_URL, uniqueName, waitFor } from '../helpers/jobs.js';
import { message, poison, streamRepository } from '../helpers/streams.js';

type Client = ReturnType<typeof createClient>;
const N = 10_000;

async function redisUp(): Promise<string | undefined> {
  const c = createClient({ url: REDIS_URL, socket: { reconnectStrategy: false, connectTimeout: 2000 } });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.ping();
    await c.close();
    return undefined;
  } catch {
    return `no Redis at ${REDIS_URL} (.ci/run starts one)`;
  }
}

const skip = !cliBuilt ? 'dist/ is not built (npm test builds it)' : DATA_MISSING ?? (await redisUp());

interface Result { id: string; message_id: string; consumer: string; data: string }

async function results(c: Client, key: string): Promise<Result[]> {
  const entries = await c.xRange(key, '-', '+');
  return (entries ?? []).flatMap((e) => (e ? [e.message as unknown as Result] : []));
}

async function publish(c: Client, key: string, bodies: string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 500) {
    const m = c.multi();
    for (const b of bodies.slice(i, i + 500)) m.xAdd(key, '*', { data: b });
    await m.exec();
  }
}

describe.skipIf(skip)('Redis Streams consumer (built CLI, real Redis)', () => {
  let c: Client;
  const keys: string[] = [];
  const repos: string[] = [];
  const clis: RunningCli[] = [];
  beforeAll(async () => {
    c = createClient({ url: REDIS_URL });
    c.on('error', () => {});
    await c.connect();
  });
  afterAll(async () => {
    for (const cli of clis) cli.child.kill('SIGKILL');
    if (keys.length) await c.del(keys);
    await c.close();
    for (const r of repos) rmSync(r, { recursive: true, force: true });
  });

  function setup(name: string) {
    const s = { stream: `${name}.requests`, results: `${name}.results`, dlq: `${name}.dlq` };
    keys.push(s.stream, s.results, s.dlq);
    const repo = streamRepository([{
      type: 'redis', url: REDIS_URL, stream: s.stream, group: 'infergate', result_stream: s.results, dead_letter_stream: s.dlq,
      max_deliver: 3, max_in_flight: 64, claim_idle_ms: 1500, version: 1,
    }]);
    repos.push(repo);
    return { ...s, repo };
  }

  async function serve(repo: string): Promise<RunningCli> {
    const cli = await startCli(repo, ['--pool-size', '2', '--metrics-port', '0']);
    clis.push(cli);
    return cli;
  }

  it('10,000 messages with the gateway killed mid-way and restarted: every one answered once, poison in the dead-letter stream', async () => {
    const s = setup(uniqueName('ig_redis'));
    const bodies = Array.from({ length: N }, (_, i) => message(i));
    for (let k = 0; k < 10; k++) bodies.splice(500 + k * 997, 0, poison(k));
    await publish(c, s.stream, bodies);
    const first = await serve(s.repo);
    await waitFor(async () => ((await c.xLen(s.results)) >= N * 0.3 ? true : undefined), 120_000, '30% of the results');
    first.child.kill('SIGKILL');
    await first.exited;
    const doneBeforeKill = await c.xLen(s.results);
    expect(doneBeforeKill).toBeLessThan(N);
    const second = await serve(s.repo);
    await waitFor(async () => {
      const got = new Set((await results(c, s.results)).map((r) => r.id));
      return got.size >= N && (await c.xLen(s.dlq)) >= 10 ? true : undefined;
    }, 180_000, 'every result and 10 dead letters');
    const res = await results(c, s.results);
    const ids = new Set(res.map((r) => r.id));
    for (let i = 0; i < N; i++) expect(ids.has(`m${i}`)).toBe(true);
    // Duplicates (none expected: the result is added atomically with the XACK) only under the same id.
    const byMessage = new Map<string, string>();
    for (const r of res) {
      const prev = byMessage.get(r.message_id);
      if (prev !== undefined) expect(r.id).toBe(prev);
      byMessage.set(r.message_id, r.id);
    }
    expect(res.length - byMessage.size).toBe(0);
    const one = JSON.parse(res.find((r) => r.id === 'm1')!.data) as { id: string; model_version: string; outputs: { name: string; shape: number[] }[] };
    expect(one).toMatchObject({ id: 'm1', model_version: '1', outputs: [{ name: 'probabilities', shape: [1, 2] }] });
    const dlq = ((await c.xRange(s.dlq, '-', '+')) ?? []).flatMap((e) => (e ? [e.message as Record<string, string>] : []));
    expect(dlq.length).toBe(10);
    expect(dlq.filter((d) => /^undecodable: message is not valid JSON/.test(d.error)).length).toBe(5);
    // The rest fail inference on each delivery: dead-lettered after max_deliver (3) tries, or, when a
    // try was in flight in the killed gateway, on the next delivery past max_deliver without being run.
    const refused = dlq.filter((d) => /^invalid_argument: .*features/.test(d.error));
    const overDelivered = dlq.filter((d) => /^delivered [4-9] times without completing \(max_deliver 3\)/.test(d.error));
    expect(refused.length + overDelivered.length).toBe(5);
    for (const d of refused) expect(Number(d.deliveries)).toBe(3);
    expect(new Set(dlq.map((d) => d.data))).toEqual(new Set(Array.from({ length: 10 }, (_, k) => poison(k))));
    const pending = (await c.xInfoGroups(s.stream)) as unknown as { pending: number; lag: number }[];
    expect(pending[0].pending).toBe(0);
    // The restarted gateway's metrics: what it processed and dead-lettered, its lag, rows by source.
    const label = `model="tabular_mlp",stream="redis:${s.stream}"`;
    const text = await waitFor(async () => {
      const t = await (await fetch(listenerUrl(second, 'Metrics'))).text();
      return new RegExp(`infergate_stream_lag\\{${label}\\} 0`).test(t) ? t : undefined;
    }, 20_000, 'the lag gauge to reach 0');
    const processed = Number(new RegExp(`infergate_stream_messages_processed_total\\{${label}\\} (\\d+)`).exec(text)?.[1]);
    expect(processed).toBeGreaterThan(0);
    expect(processed).toBeLessThanOrEqual(N - doneBeforeKill + 10);
    expect(text).toMatch(new RegExp(`infergate_stream_messages_dead_lettered_total\\{${label}\\} \\d+`));
    expect(text).toMatch(/infergate_rows_by_source_total\{model="tabular_mlp",version="1",source="stream"\} \d+/);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 400_000);

  it('two gateways on one stream share the work through the consumer group', async () => {
    const s = setup(uniqueName('ig_redis2'));
    const a = await serve(s.repo);
    const b = await serve(s.repo);
    const n = 4000;
    await publish(c, s.stream, Array.from({ length: n }, (_, i) => message(i)));
    await waitFor(async () => ((await c.xLen(s.results)) >= n ? true : undefined), 120_000, 'every result');
    const res = await results(c, s.results);
    expect(new Set(res.map((r) => r.id)).size).toBe(n);
    const perConsumer = new Map<string, number>();
    for (const r of res) perConsumer.set(r.consumer, (perConsumer.get(r.consumer) ?? 0) + 1);
    expect(perConsumer.size).toBe(2);
    for (const count of perConsumer.values()) expect(count).toBeGreaterThan(0);
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
  }, 200_000);
});
