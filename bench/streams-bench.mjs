// Stream throughput per broker against HTTP at 64 connections, same model (tabular_mlp v1,
// one row per message / request), same run, interleaved rounds:
//   redis: a gateway consuming a Redis Streams consumer group (max_in_flight 64)
//   nats:  a gateway consuming a JetStream durable pull consumer (max_in_flight 64)
//   http:  autocannon, 64 connections, against a gateway on the same repository
// For the brokers, M messages are queued first; the rate is messages answered per second
// from the first result to the last (gateway start-up excluded).
//
//   npm run build && node bench/streams-bench.mjs [--rounds 2] [--messages 20000] [--seconds 5]
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { createClient } from 'redis';
import { stringify } from 'yaml';
import { cell } from './ab-lib.mjs';
import { MODELS_DIR, ROOT, median, parseFlags, sleep, startServer, stopServer, workloads } from './lib.mjs';

const f = parseFlags(process.argv.slice(2));
const ROUNDS = Number(f.rounds ?? 2);
const M = Number(f.messages ?? 20_000);
const SECONDS = Number(f.seconds ?? 5);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const CLI = join(ROOT, 'dist/cli/main.js');
if (!existsSync(CLI)) throw new Error('dist/ is not built: npm run build');

const request = workloads().tabular_mlp.request;
const body = JSON.stringify(request);
const tag = `igbench_${process.pid}_${Date.now().toString(36)}`;

function repoWith(streams) {
  const repo = mkdtempSync(join(tmpdir(), 'infergate-streams-bench-'));
  cpSync(join(MODELS_DIR, 'tabular_mlp'), join(repo, 'tabular_mlp'), { recursive: true });
  const cfg = join(repo, 'tabular_mlp', 'config.yaml');
  if (streams) writeFileSync(cfg, `${readFileSync(cfg, 'utf8')}\n${stringify({ streams })}`);
  return repo;
}

const serve = (label, repo) => startServer(label, [CLI, 'serve', '--model-repository', repo, '--host', '127.0.0.1', '--http-port', '0', '--grpc-port=-1', '--metrics-port=-1', '--log-level', 'warn'], /HTTP\s+(http:\/\/\S+)/);

async function timeResults(count, label) {
  let t1 = 0;
  let start = 0;
  for (;;) {
    const n = await count();
    if (n > 0 && !t1) {
      t1 = performance.now();
      start = n;
    }
    if (n >= M) return ((n - start) / (performance.now() - t1)) * 1000;
    if (t1 && performance.now() - t1 > 300_000) throw new Error(`${label}: only ${n} of ${M} results after 300 s`);
    await sleep(20);
  }
}

async function redisRound(r) {
  const c = createClient({ url: REDIS_URL });
  await c.connect();
  const s = { stream: `${tag}_${r}.req`, results: `${tag}_${r}.res`, dlq: `${tag}_${r}.dlq` };
  for (let i = 0; i < M; i += 1000) {
    const m = c.multi();
    for (let k = i; k < Math.min(M, i + 1000); k++) m.xAdd(s.stream, '*', { data: body });
    await m.exec();
  }
  const repo = repoWith([{ type: 'redis', url: REDIS_URL, stream: s.stream, result_stream: s.results, dead_letter_stream: s.dlq, max_in_flight: 64, version: 1 }]);
  const srv = await serve('redis', repo);
  try {
    return await timeResults(() => c.xLen(s.results), 'redis');
  } finally {
    await stopServer(srv);
    await c.del([s.stream, s.results, s.dlq]);
    await c.close();
    rmSync(repo, { recursive: true, force: true });
  }
}

async function natsRound(r) {
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const name = `${tag}_${r}`.toUpperCase();
  const subj = `${tag}_${r}`;
  await jsm.streams.add({ name, subjects: [`${subj}.req`] });
  await jsm.streams.add({ name: `${name}_RES`, subjects: [`${subj}.res`, `${subj}.dlq`] });
  for (let i = 0; i < M; i += 500) await Promise.all(Array.from({ length: Math.min(500, M - i) }, () => js.publish(`${subj}.req`, body)));
  const repo = repoWith([{ type: 'nats', url: NATS_URL, stream: name, subject: `${subj}.req`, result_subject: `${subj}.res`, dead_letter_subject: `${subj}.dlq`, max_in_flight: 64, version: 1 }]);
  const srv = await serve('nats', repo);
  try {
    return await timeResults(async () => (await jsm.streams.info(`${name}_RES`)).state.messages, 'nats');
  } finally {
    await stopServer(srv);
    await jsm.streams.delete(name).catch(() => {});
    await jsm.streams.delete(`${name}_RES`).catch(() => {});
    await nc.close();
    rmSync(repo, { recursive: true, force: true });
  }
}

async function httpRound() {
  const repo = repoWith(undefined);
  const srv = await serve('http', repo);
  try {
    const url = `${srv.url}/v2/models/tabular_mlp/versions/1/infer`;
    await cell(url, body, 64, 1);
    return (await cell(url, body, 64, SECONDS)).rps;
  } finally {
    await stopServer(srv);
    rmSync(repo, { recursive: true, force: true });
  }
}

const runs = { redis: [], nats: [], http: [] };
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 ? ['http', 'nats', 'redis'] : ['redis', 'nats', 'http'];
  for (const k of order) {
    const v = k === 'redis' ? await redisRound(r) : k === 'nats' ? await natsRound(r) : await httpRound();
    runs[k].push(v);
    process.stderr.write(`round ${r + 1}/${ROUNDS} ${k}: ${Math.round(v)} ${k === 'http' ? 'req/s' : 'messages/s'}\n`);
  }
}
const rows = ['| path | per second (median) | ratio to HTTP @64 (median of rounds) | per round |', '| --- | ---: | ---: | --- |'];
for (const k of ['redis', 'nats', 'http']) {
  const ratio = median(runs[k].map((v, i) => v / runs.http[i]));
  rows.push(`| ${k === 'http' ? 'HTTP, 64 connections' : `${k} stream, max_in_flight 64`} | ${Math.round(median(runs[k]))} | ${ratio.toFixed(3)} | ${runs[k].map(Math.round).join(', ')} |`);
}
process.stdout.write(`${rows.join('\n')}\n`);
process.exit(0);
