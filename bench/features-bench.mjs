// Online feature lookup benchmark (issue 14), one interleaved run on this machine:
//  (1) POST /get-online-features, 1 entity x 30 features, 16 connections: infergate with its
//      cache warm, infergate reading Redis with the cache off, and a plain HTTP server doing one
//      Redis HMGET per request (bench/features-hmget-server.mjs), driven the same way;
//  (2) tabular_mlp inference by patient_id (fused lookup, cache warm) vs the same request with
//      the 30 features sent directly, 16 connections: the p50 overhead.
// Redis is a private redis-server on a free port (never the shared one).
//
// Targets take turns in short windows (the machine's load moves a lot); figures are medians.
//
//   npm run build && node bench/features-bench.mjs [--seconds 2] [--rounds 6] [--connections 16]
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { HOST, MODELS_DIR, ROOT, median as med, parseFlags, startServer } from './lib.mjs';

const f = parseFlags(process.argv.slice(2));
const SECONDS = Number(f.seconds ?? 2);
const ROUNDS = Number(f.rounds ?? 6);
const CONNECTIONS = Number(f.connections ?? 16);
const CLI = join(ROOT, 'dist/cli/main.js');
if (!existsSync(CLI)) throw new Error('build first: npx tsc -p .');
const { RawHttpConnection } = await import(join(ROOT, 'dist/bench/http-connection.js'));

function sharedCsv() {
  const c = [process.env.INFERGATE_SHARED_DATA, join(ROOT, '../shared/data'), join(ROOT, '../../shared/data')].filter(Boolean);
  const d = c.find((x) => existsSync(join(x, 'patients_features.csv')));
  if (!d) throw new Error(`patients_features.csv not found in ${c.join(' or ')}; set INFERGATE_SHARED_DATA`);
  return join(d, 'patients_features.csv');
}

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, HOST, () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});

// --- private Redis ---------------------------------------------------------------------------
const work = mkdtempSync(join(tmpdir(), 'infergate-features-bench-'));
const redisPort = await freePort();
const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', work], { stdio: 'ignore' });
const stopAll = () => { try { redis.kill('SIGTERM'); } catch { /* gone */ } };
process.on('exit', stopAll);
const redisUrl = `redis://${HOST}:${redisPort}`;
for (let i = 0; i < 100; i++) {
  if (spawnSync('redis-cli', ['-p', String(redisPort), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG') break;
  await new Promise((r) => setTimeout(r, 50));
}

// --- repository and definitions ----------------------------------------------------------------
const csv = sharedCsv();
const header = readFileSync(csv, 'utf8').split('\n')[0].split(',');
const names = header.slice(2);
const row = readFileSync(csv, 'utf8').split('\n').find((l) => l.startsWith('p000123,')).split(',');
const id = row[0];
const feats = row.slice(2).map(Number);
const repo = join(work, 'models');
mkdirSync(repo);
cpSync(join(MODELS_DIR, 'tabular_mlp'), join(repo, 'tabular_mlp'), { recursive: true });
writeFileSync(join(repo, 'tabular_mlp', 'config.yaml'), 'max_batch_size: 64\nversion_policy: {specific: {versions: [1]}}\nfeatures: {service: breast_cancer, entity_input: patient_id, input: features}\n');
cpSync(csv, join(work, 'patients_features.csv'));
const yaml = (cache) => `project: demo
online_store: {type: redis, connection_string: "${redisUrl}", cache: ${cache}}
entities: [{name: patient, join_keys: [patient_id]}]
feature_views:
  - {name: patient_features, entities: [patient], ttl: 0, source: {path: ${join(work, 'patients_features.csv')}}}
feature_services:
  - {name: breast_cancer, features: [patient_features]}
`;
writeFileSync(join(repo, 'feature_store.yaml'), yaml('{max_entries: 100000, ttl: 60s}'));
const noCache = join(work, 'no_cache.yaml');
writeFileSync(noCache, yaml('false'));
const m = spawnSync(process.execPath, [CLI, 'features', 'materialize', '2026-10-01', '2026-12-01', '--model-repository', repo], { encoding: 'utf8' });
if (m.status !== 0) throw new Error(`materialize failed:\n${m.stdout}${m.stderr}`);

const serveArgs = ['serve', '--host', HOST, '--http-port', '0', '--grpc-port=-1', '--metrics-port=-1', '--log-level', 'warn', '--model-repository', repo];
const urlRe = /HTTP\s+(http:\/\/\S+)/;
const cached = await startServer('infergate (cache)', [CLI, ...serveArgs], urlRe);
const uncached = await startServer('infergate (no cache)', [CLI, ...serveArgs, '--feature-store', noCache], urlRe);
const hmget = await startServer('hmget-server', [join(ROOT, 'bench/features-hmget-server.mjs'), '--redis', redisUrl, '--key-prefix', 'demo:patient_id:', '--view', 'patient_features', '--features', names.join(',')], /listening (http:\/\/\S+)/);

// --- load -------------------------------------------------------------------------------------
function rawPost(url, path, body) {
  const { host } = new URL(url);
  const b = Buffer.from(JSON.stringify(body));
  return Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\n\r\n`), b]);
}

/**
 * Closed loop: keep-alive connections, each sending the next request when the last answers.
 * `mix` lists [target, connections] pairs that run at the same time; one result per pair.
 */
async function measureMix(mix, seconds) {
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const results = await Promise.all(mix.map(async ([t, n]) => {
    const { hostname, port } = new URL(t.url);
    const conns = Array.from({ length: n }, () => new RawHttpConnection(hostname, Number(port)));
    const lat = [];
    let errors = 0;
    await Promise.all(conns.map(async (c) => {
      while (performance.now() < end) {
        const s = performance.now();
        const r = await c.send(t.req);
        if (r.status !== 200) {
          errors++;
          if (errors === 1) process.stderr.write(`error ${r.status}: ${r.body?.toString().slice(0, 300)}\n`);
        } else lat.push(performance.now() - s);
      }
    }));
    conns.forEach((c) => c.close?.());
    return { lat, errors };
  }));
  const elapsed = (performance.now() - t0) / 1000;
  return results.map(({ lat, errors }) => {
    lat.sort((a, b) => a - b);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    return { rps: lat.length / elapsed, p50: q(0.5), p99: q(0.99), errors };
  });
}
const measure = async (url, req, seconds) => (await measureMix([[{ url, req }, CONNECTIONS]], seconds))[0];

const lookupBody = { feature_service: 'breast_cancer', entities: { patient_id: [id] } };
const targets = {
  cached: { url: cached.url, req: rawPost(cached.url, '/get-online-features', lookupBody) },
  redis: { url: uncached.url, req: rawPost(uncached.url, '/get-online-features', lookupBody) },
  hmget: { url: hmget.url, req: rawPost(hmget.url, '/get-online-features', lookupBody) },
  fused: { url: cached.url, req: rawPost(cached.url, '/v2/models/tabular_mlp/versions/1/infer', { inputs: [{ name: 'patient_id', datatype: 'BYTES', shape: [1], data: [id] }] }) },
  direct: { url: cached.url, req: rawPost(cached.url, '/v2/models/tabular_mlp/versions/1/infer', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: feats }] }) },
};

// Sanity: the answers are what they should be before anything is timed.
const check = await (await fetch(`${cached.url}/get-online-features`, { method: 'POST', body: JSON.stringify(lookupBody) })).json();
if (check.results[1].values[0] !== feats[0]) throw new Error(`lookup answered ${JSON.stringify(check).slice(0, 200)}`);

const results = Object.fromEntries([...Object.keys(targets), 'pair_fused', 'pair_direct'].map((k) => [k, []]));
for (const t of Object.values(targets)) await measure(t.url, t.req, 1); // warm-up (fills the cache)
for (let r = 0; r < ROUNDS; r++) {
  // Every other round in the reverse order, so no target always follows the same one.
  const order = Object.entries(targets);
  if (r % 2 === 1) order.reverse();
  for (const [k, t] of order) {
    const res = await measure(t.url, t.req, SECONDS);
    results[k].push(res);
    process.stderr.write(`round ${r + 1}/${ROUNDS} ${k.padEnd(11)} ${res.rps.toFixed(0).padStart(6)} req/s  p50 ${res.p50.toFixed(3)} ms  p99 ${res.p99.toFixed(3)} ms${res.errors ? `  ${res.errors} errors` : ''}\n`);
  }
  // By id and features sent at the same time (half the connections each): both see the same machine.
  const [pf, pd] = await measureMix([[targets.fused, CONNECTIONS / 2], [targets.direct, CONNECTIONS / 2]], SECONDS);
  results.pair_fused.push(pf);
  results.pair_direct.push(pd);
  process.stderr.write(`round ${r + 1}/${ROUNDS} paired      by id p50 ${pf.p50.toFixed(3)} ms, sent p50 ${pd.p50.toFixed(3)} ms\n`);
}
// Ratios per round (the same minute of a noisy machine), then their median.
const perRound = (a, b) => med(results[a].map((x, i) => x.rps / results[b][i].rps));
const summary = Object.fromEntries(Object.entries(results).map(([k, rs]) => [k, { rps: med(rs.map((x) => x.rps)), p50: med(rs.map((x) => x.p50)), p99: med(rs.map((x) => x.p99)), errors: rs.reduce((n, x) => n + x.errors, 0) }]));
const report = {
  date: new Date().toISOString(), connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS, summary,
  ratios: {
    redis_rps_vs_hmget: perRound('redis', 'hmget'),
    cached_rps_vs_hmget: perRound('cached', 'hmget'),
    fused_p50_overhead_ms: summary.fused.p50 - summary.direct.p50,
    fused_p50_overhead_paired_ms: med(results.pair_fused.map((x, i) => x.p50 - results.pair_direct[i].p50)),
  },
  rounds_detail: results,
};
process.stdout.write(`\nget-online-features, 1 entity x 30 features, ${CONNECTIONS} connections (medians of ${ROUNDS} rounds of ${SECONDS}s):\n`);
for (const k of ['cached', 'redis', 'hmget']) process.stdout.write(`  ${k.padEnd(8)} ${summary[k].rps.toFixed(0).padStart(6)} req/s  p50 ${summary[k].p50.toFixed(3)} ms  p99 ${summary[k].p99.toFixed(3)} ms\n`);
process.stdout.write(`  throughput / plain HMGET server (median of per-round ratios): cached ${report.ratios.cached_rps_vs_hmget.toFixed(2)}x, Redis (cache off) ${report.ratios.redis_rps_vs_hmget.toFixed(2)}x\n`);
process.stdout.write(`tabular_mlp, ${CONNECTIONS} connections: by id p50 ${summary.fused.p50.toFixed(3)} ms (${summary.fused.rps.toFixed(0)} req/s), features sent p50 ${summary.direct.p50.toFixed(3)} ms (${summary.direct.rps.toFixed(0)} req/s): overhead ${report.ratios.fused_p50_overhead_ms.toFixed(3)} ms\n`);
process.stdout.write(`  run side by side (${CONNECTIONS / 2} connections each, same windows): p50 overhead ${report.ratios.fused_p50_overhead_paired_ms.toFixed(3)} ms (median of rounds)\n`);
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const out = join(ROOT, 'bench/results', `features-${report.date.slice(0, 19).replace(/:/g, '')}.json`);
writeFileSync(out, JSON.stringify(report, null, 2));
process.stdout.write(`wrote ${out}\n`);
for (const s of [cached, uncached, hmget]) s.child.kill('SIGTERM');
stopAll();
rmSync(work, { recursive: true, force: true });
process.exit(0);
