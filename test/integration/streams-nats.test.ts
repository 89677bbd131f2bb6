import { rmSync } from 'node:fs';
import { type JetStreamClient, type JetStreamManager, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, cliBuilt, startCli } from '../helpers/cli.js';
import { DATA_MISSING, NATS_URL, uniqueName, waitFor } from '../helpers/jobs.js';
import { message, poison, streamRepository } from '../helpers/streams.js';

const N = 10_000;

async function natsUp(): Promise<string | undefined> {
  try {
    const nc = await connect({ servers: NATS_URL, timeout: 2000, reconnect: false });
    const jsm = await jetstreamManager(nc);
    await jsm.getAccountInfo();
    await nc.close();
    return undefined;
  } catch {
    return `no NATS with JetStream at ${NATS_URL} (.ci/run starts one)`;
  }
}

const skip = !cliBuilt ? 'dist/ is not built (npm test builds it)' : DATA_MISSING ?? (await natsUp());

interface Out { resultId: string; messageId: string; consumer: string; data: string; error?: string; deliveries?: string }

/** Every message of a stream, read by an ordered consumer. */
async function readAll(js: JetStreamClient, jsm: JetStreamManager, stream: string): Promise<Out[]> {
  const info = await jsm.streams.info(stream);
  const want = info.state.messages;
  const out: Out[] = [];
  if (want === 0) return out;
  const oc = await js.consumers.get(stream);
  const total = (await oc.info()).num_pending;
  if (total === 0) return out;
  const it = await oc.fetch({ max_messages: total, expires: 5000 });
  for await (const m of it as AsyncIterable<JsMsg>) {
    const h = m.headers;
    out.push({
      resultId: h?.get('Infergate-Result-Id') ?? '', messageId: h?.get('Infergate-Message-Id') ?? '', consumer: h?.get('Infergate-Consumer') ?? '',
      data: m.string(), error: h?.get('Infergate-Error'), deliveries: h?.get('Infergate-Deliveries'),
    });
    if (out.length >= total) break;
  }
  return out;
}

describe.skipIf(skip)('NATS JetStream consumer (built CLI, real JetStream)', () => {
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  const streams: string[] = [];
  const repos: string[] = [];
  const clis: RunningCli[] = [];
  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    for (const cli of clis) cli.child.kill('SIGKILL');
    for (const s of streams) await jsm.streams.delete(s).catch(() => {});
    await nc.close();
    for (const r of repos) rmSync(r, { recursive: true, force: true });
  });

  async function setup(name: string) {
    const up = name.toUpperCase();
    const s = { stream: up, res: `${up}_RES`, dead: `${up}_DLQ`, subject: `${name}.requests`, results: `${name}.results`, dlq: `${name}.dlq` };
    await jsm.streams.add({ name: s.stream, subjects: [s.subject] });
    await jsm.streams.add({ name: s.res, subjects: [s.results] });
    await jsm.streams.add({ name: s.dead, subjects: [s.dlq] });
    streams.push(s.stream, s.res, s.dead);
    const repo = streamRepository([{
      type: 'nats', url: NATS_URL, stream: s.stream, subject: s.subject, durable: 'infergate', result_subject: s.results,
      dead_letter_subject: s.dlq, max_deliver: 3, max_in_flight: 64, ack_wait_ms: 2000, version: 1,
    }]);
    repos.push(repo);
    return { ...s, repo };
  }

  async function publish(subject: string, bodies: string[]): Promise<void> {
    for (let i = 0; i < bodies.length; i += 200) await Promise.all(bodies.slice(i, i + 200).map((b) => js.publish(subject, b)));
  }

  const count = async (stream: string) => (await jsm.streams.info(stream)).state.messages;

  async function serve(repo: string): Promise<RunningCli> {
    const cli = await startCli(repo, ['--pool-size', '2']);
    clis.push(cli);
    return cli;
  }

  it('10,000 messages with the gateway killed mid-way and restarted: every one answered, poison in the dead-letter subject', async () => {
    const s = await setup(uniqueName('ig_nats'));
    const bodies = Array.from({ length: N }, (_, i) => message(i));
    for (let k = 0; k < 10; k++) bodies.splice(500 + k * 997, 0, poison(k));
    await publish(s.subject, bodies);
    const first = await serve(s.repo);
    await waitFor(async () => ((await count(s.res)) >= N * 0.3 ? true : undefined), 120_000, '30% of the results');
    first.child.kill('SIGKILL');
    await first.exited;
    expect(await count(s.res)).toBeLessThan(N);
    const second = await serve(s.repo);
    await waitFor(async () => ((await count(s.res)) >= N && (await count(s.dead)) >= 10 ? true : undefined), 180_000, 'every result and 10 dead letters');
    const res = await readAll(js, jsm, s.res);
    const ids = new Set(res.map((r) => r.resultId));
    for (let i = 0; i < N; i++) expect(ids.has(`m${i}`)).toBe(true);
    const byMessage = new Map<string, string>();
    for (const r of res) {
      const prev = byMessage.get(r.messageId);
      if (prev !== undefined) expect(r.resultId).toBe(prev);
      byMessage.set(r.messageId, r.resultId);
      expect((JSON.parse(r.data) as { id: string }).id).toBe(r.resultId);
    }
    const dlq = await readAll(js, jsm, s.dead);
    expect(dlq.length).toBe(10);
    expect(dlq.filter((d) => /^undecodable: message is not valid JSON/.test(d.error ?? '')).length).toBe(5);
    // The rest fail inference on each delivery: dead-lettered after max_deliver (3) tries, or, when a
    // try was in flight in the killed gateway, on the next delivery past max_deliver without being run.
    const refused = dlq.filter((d) => /^invalid_argument: .*features/.test(d.error ?? ''));
    const overDelivered = dlq.filter((d) => /^delivered [4-9] times without completing \(max_deliver 3\)/.test(d.error ?? ''));
    expect(refused.length + overDelivered.length).toBe(5);
    for (const d of refused) expect(Number(d.deliveries)).toBe(3);
    expect(new Set(dlq.map((d) => d.data))).toEqual(new Set(Array.from({ length: 10 }, (_, k) => poison(k))));
    await waitFor(async () => {
      const ci = await jsm.consumers.info(s.stream, 'infergate');
      return ci.num_pending === 0 && ci.num_ack_pending === 0 ? true : undefined;
    }, 30_000, 'the consumer to have nothing left');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 400_000);

  it('two gateways on one durable consumer share the work', async () => {
    const s = await setup(uniqueName('ig_nats2'));
    const a = await serve(s.repo);
    const b = await serve(s.repo);
    const n = 4000;
    await publish(s.subject, Array.from({ length: n }, (_, i) => message(i)));
    await waitFor(async () => ((await count(s.res)) >= n ? true : undefined), 120_000, 'every result');
    const res = await readAll(js, jsm, s.res);
    expect(new Set(res.map((r) => r.resultId)).size).toBe(n);
    const perConsumer = new Map<string, number>();
    for (const r of res) perConsumer.set(r.consumer, (perConsumer.get(r.consumer) ?? 0) + 1);
    expect(perConsumer.size).toBe(2);
    for (const c of perConsumer.values()) expect(c).toBeGreaterThan(0);
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
  }, 200_000);
});
