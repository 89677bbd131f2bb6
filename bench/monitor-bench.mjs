// Drift monitor overhead (issue 12): tabular_mlp at 64 connections, monitoring off against
// monitoring on with sample_rate 1.0 (every request's row copied into the window, its prediction
// kept for labels), in one interleaved run. Reports req/s per round and the on/off ratio.
//
//   npm run build && node bench/monitor-bench.mjs [--conns 64] [--seconds 10] [--rounds 3] [--warmup 3] [--json out.json]
//
// Both servers are the built CLI (dist/cli/main.js) on scratch copies of models/tabular_mlp
// that differ only in their monitoring block; they run side by side, measured one at a time.
import autocannon from 'autocannon';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { MODELS_DIR, ROOT, median, parseFlags, percentile, processCpuSeconds, startServer, stopServer, workloads } from './lib.mjs';

const f = parseFlags(process.argv.slice(2));
const cfg = {
  conns: Number(f.conns ?? 64),
  seconds: Number(f.seconds ?? 10),
  rounds: Number(f.rounds ?? 3),
  warmup: Number(f.warmup ?? 3),
  json: f.json,
};
const log = (s) => process.stderr.write(`${s}\n`);

if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
  log('bench: dist/cli/main.js not found: run `npm run build` first');
  process.exit(1);
}

/** A scratch repository holding tabular_mlp with the given monitoring block (or none). */
function repository(monitoring) {
  const dir = mkdtempSync(join(tmpdir(), 'monitor-bench-'));
  cpSync(join(MODELS_DIR, 'tabular_mlp'), join(dir, 'tabular_mlp'), { recursive: true });
  const file = join(dir, 'tabular_mlp', 'config.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  if (monitoring) doc.set('monitoring', monitoring);
  else doc.delete('monitoring');
  writeFileSync(file, doc.toString());
  return dir;
}

const shipped = parseDocument(readFileSync(join(MODELS_DIR, 'tabular_mlp', 'config.yaml'), 'utf8')).toJS().monitoring;
const arms = {
  off: repository(undefined),
  on: repository({ ...shipped, sample_rate: 1.0 }),
};

const W = workloads().tabular_mlp;
// With an id, so the monitored server also records each prediction for label feedback.
const body = JSON.stringify({ id: 'bench', ...W.request });

function cannon(url, seconds) {
  return new Promise((resolve, reject) => {
    const lat = [];
    let ok = 0;
    let bad = 0;
    const t0 = performance.now();
    const inst = autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: cfg.conns, pipelining: 1, duration: seconds, timeout: 30 }, (err) => {
      if (err) return reject(err);
      const wall = (performance.now() - t0) / 1000;
      const sorted = Float64Array.from(lat).sort();
      resolve({ ok, bad, rps: ok / wall, p50: percentile(sorted, 50), p99: percentile(sorted, 99) });
    });
    inst.on('response', (_c, status, _b, ms) => {
      if (status >= 200 && status < 300) {
        ok++;
        lat.push(ms);
      } else bad++;
    });
  });
}

const servers = {};
try {
  for (const [arm, repo] of Object.entries(arms)) {
    log(`bench: starting infergate with monitoring ${arm}...`);
    servers[arm] = await startServer(arm, [
      'dist/cli/main.js', 'serve', '--host', '127.0.0.1', '--http-port=0', '--grpc-port=-1', '--metrics-port=-1',
      '--model-repository', repo, '--log-level', 'warn',
    ], /infergate: listening\s+HTTP\s+(http:\/\/\S+)/);
  }
  const check = await fetch(`${servers.on.url}/v2/models/tabular_mlp/versions/1/drift`);
  if (check.status !== 200) throw new Error(`the monitored server has no /drift: HTTP ${check.status}`);
  if ((await fetch(`${servers.off.url}/v2/models/tabular_mlp/versions/1/drift`)).status !== 400) throw new Error('the unmonitored server monitors');

  const rows = [];
  for (let round = 0; round < cfg.rounds; round++) {
    const order = round % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const arm of order) {
      const srv = servers[arm];
      const url = srv.url + W.path;
      if (cfg.warmup > 0) await cannon(url, cfg.warmup);
      const cpu0 = processCpuSeconds(srv.pid);
      const r = await cannon(url, cfg.seconds);
      const cpuUs = ((processCpuSeconds(srv.pid) - cpu0) * 1e6) / Math.max(1, r.ok + r.bad);
      rows.push({ round: round + 1, arm, ...r, cpuUsPerReq: cpuUs });
      log(`bench: round ${round + 1} monitoring ${arm.padEnd(3)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50?.toFixed(2)} ms  p99 ${r.p99?.toFixed(2)} ms  server CPU ${cpuUs.toFixed(1)} us/req${r.bad ? `  (${r.bad} errors)` : ''}`);
    }
  }
  const drift = await (await fetch(`${servers.on.url}/v2/models/tabular_mlp/versions/1/drift`)).json();
  const perRound = Array.from({ length: cfg.rounds }, (_, i) => {
    const on = rows.find((r) => r.round === i + 1 && r.arm === 'on');
    const off = rows.find((r) => r.round === i + 1 && r.arm === 'off');
    return on.rps / off.rps;
  });
  const medOn = median(rows.filter((r) => r.arm === 'on').map((r) => r.rps));
  const medOff = median(rows.filter((r) => r.arm === 'off').map((r) => r.rps));
  const ratio = medOn / medOff;
  // Server CPU per request: a second view, less moved by how busy the load generator's core is.
  const cpuOn = median(rows.filter((r) => r.arm === 'on').map((r) => r.cpuUsPerReq));
  const cpuOff = median(rows.filter((r) => r.arm === 'off').map((r) => r.cpuUsPerReq));
  const summary = {
    medianCpuUsPerReqOff: cpuOff, medianCpuUsPerReqOn: cpuOn,
    model: 'tabular_mlp', connections: cfg.conns, seconds: cfg.seconds, rounds: cfg.rounds,
    medianRpsOff: medOff, medianRpsOn: medOn, ratio, perRoundRatio: perRound,
    errors: rows.reduce((n, r) => n + r.bad, 0),
    monitoredWindowRows: drift.window_rows, rows,
  };
  console.log(`\ntabular_mlp @${cfg.conns} connections, ${cfg.rounds} interleaved rounds of ${cfg.seconds} s`);
  console.log(`  monitoring off: median ${medOff.toFixed(0)} req/s`);
  console.log(`  monitoring on (sample_rate 1.0): median ${medOn.toFixed(0)} req/s (window holds ${drift.window_rows} rows)`);
  console.log(`  ratio on/off: ${ratio.toFixed(3)} (target >= 0.97)  per round: ${perRound.map((x) => x.toFixed(3)).join(', ')}`);
  console.log(`  server CPU per request (median): off ${cpuOff.toFixed(1)} us, on ${cpuOn.toFixed(1)} us (on/off ${(cpuOn / cpuOff).toFixed(3)})`);
  if (cfg.json) writeFileSync(cfg.json, JSON.stringify(summary, null, 2));
} finally {
  for (const s of Object.values(servers)) await stopServer(s);
}
