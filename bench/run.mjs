// infergate benchmark (issue 2): infergate against three baselines measured in the same run,
// interleaved, so that the noisy 2-core machine affects every target alike.
//
//   npm run bench                       # full run (~10-13 min): 2 rounds, 5 s cells + 1 s warm-up
//   node bench/run.mjs --quick          # harness check (~2 min): 1 round, 3 s cells, subset
//   node bench/run.mjs --models simple --targets plain,infergate --conns 1,64 --rounds 3
//
// Targets: ceiling   raw onnxruntime-node in-process, best batch size and threading (bench/ceiling.mjs)
//          plain     fastify + onnxruntime-node, one request at a time on the main thread (bench/plain-server.mjs)
//          echo      fastify that parses the body and returns a fixed reply: the HTTP ceiling (bench/echo-server.mjs)
//          infergate the CLI from dist/ (child process)
// Output: markdown on stdout and in bench/results/latest.md, raw data in bench/results/latest.json.
// Progress (one line per cell) goes to stderr.
import autocannon from 'autocannon';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { measureCeiling } from './ceiling.mjs';
import {
  ROOT, TEXT_SEQ, compareOutputs, median, parseFlags, percentile, processCpuSeconds, sleep,
  startServer, stopServer, workloads,
} from './lib.mjs';

const HELP = `Usage: node bench/run.mjs [options]   (npm run bench builds first, then runs this)
  --quick                 1 round, 3 s cells, 0.5 s warm-up, connections 1,64, small ceiling sweep
  --rounds N              interleaved rounds per cell (default 2); the report shows the median
  --duration S            measured seconds per cell (default 5)
  --warmup S              warm-up seconds before each cell (default 1)
  --models a,b            of simple,tabular_mlp,text_encoder (default all)
  --targets a,b           of ceiling,plain,echo,infergate (default all)
  --conns a,b             connection counts (default 1,16,64)
  --no-isolation          skip the mixed-load isolation scenario
  --ceiling-ms MS         measuring window per ceiling configuration (default 800)
  --infergate-args "..."  extra flags for 'infergate serve' (e.g. "--pool-size 2")
  --out DIR               where latest.md / latest.json go (default bench/results)
`;

const f = parseFlags(process.argv.slice(2));
if (f.help || f.h) {
  process.stdout.write(HELP);
  process.exit(0);
}
const quick = f.quick === true;
const list = (v, d) => (v === undefined || v === true ? d : String(v).split(',').map((s) => s.trim()).filter(Boolean));
const ALL_MODELS = ['simple', 'tabular_mlp', 'text_encoder'];
const ALL_TARGETS = ['ceiling', 'plain', 'echo', 'infergate'];
const cfg = {
  quick,
  rounds: Number(f.rounds ?? (quick ? 1 : 2)),
  duration: Number(f.duration ?? (quick ? 3 : 5)),
  warmup: Number(f.warmup ?? (quick ? 0.5 : 1)),
  models: list(f.models, ALL_MODELS),
  targets: list(f.targets, ALL_TARGETS),
  conns: list(f.conns, quick ? ['1', '64'] : ['1', '16', '64']).map(Number),
  isolation: f['no-isolation'] !== true,
  isolationConns: 16,
  ceilingMs: Number(f['ceiling-ms'] ?? (quick ? 300 : 800)),
  ceilingBatches: quick ? [1, 32] : [1, 16, 32, 64],
  ceilingLayouts: ['1x1', '1x2', '2x1'],
  infergateArgs: f['infergate-args'] ? String(f['infergate-args']).split(/\s+/).filter(Boolean) : [],
  out: f.out ? String(f.out) : join(ROOT, 'bench', 'results'),
};
for (const m of cfg.models) if (!ALL_MODELS.includes(m)) throw new Error(`unknown model '${m}'; choose from ${ALL_MODELS.join(', ')}`);
for (const t of cfg.targets) if (!ALL_TARGETS.includes(t)) throw new Error(`unknown target '${t}'; choose from ${ALL_TARGETS.join(', ')}`);
const HTTP_TARGETS = ['plain', 'echo', 'infergate'].filter((t) => cfg.targets.includes(t));
const ISO_TARGETS = ['plain', 'infergate'].filter((t) => cfg.targets.includes(t));
const runIsolation = cfg.isolation && ISO_TARGETS.length > 0 && cfg.models.includes('tabular_mlp') && cfg.models.includes('text_encoder');

const W = workloads();
const bodies = Object.fromEntries(Object.values(W).map((w) => [w.model, JSON.stringify(w.request)]));
const started = Date.now();
const log = (s) => process.stderr.write(`${s}\n`);
const elapsed = () => {
  const s = Math.round((Date.now() - started) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};

// ---------------------------------------------------------------- servers
const servers = {};
async function startTargets() {
  const main = join(ROOT, 'dist', 'cli', 'main.js');
  if (cfg.targets.includes('infergate') && !existsSync(main)) {
    throw new Error(`dist/cli/main.js not found: run 'npm run build' first (npm run bench does it for you)`);
  }
  const wanted = [...new Set(cfg.models)];
  if (HTTP_TARGETS.includes('plain')) {
    log('bench: starting plain server (fastify + onnxruntime-node on the main thread)...');
    servers.plain = await startServer('plain', ['bench/plain-server.mjs', '--port', '0', '--models', wanted.join(',')], /listening (http:\/\/\S+)/);
  }
  if (HTTP_TARGETS.includes('echo')) {
    log('bench: starting echo server (HTTP ceiling)...');
    servers.echo = await startServer('echo', ['bench/echo-server.mjs', '--port', '0'], /listening (http:\/\/\S+)/);
  }
  if (HTTP_TARGETS.includes('infergate')) {
    log('bench: starting infergate (dist/cli/main.js serve)...');
    servers.infergate = await startServer('infergate', [
      'dist/cli/main.js', 'serve', '--host', '127.0.0.1', '--http-port=0', '--grpc-port=-1', '--metrics-port=-1',
      '--model-repository', 'models', '--model-control-mode', 'explicit', '--load-model', wanted.join(','),
      '--log-level', 'warn', ...cfg.infergateArgs,
    ], /infergate: listening\s+HTTP\s+(http:\/\/\S+)/);
  }
  for (const [k, s] of Object.entries(servers)) log(`bench:   ${k.padEnd(9)} pid ${s.pid} at ${s.url}`);
}

async function post(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** One request per target and model before measuring: status 200 and the right outputs. */
async function validate() {
  const problems = {};
  const answers = {};
  for (const t of HTTP_TARGETS) {
    for (const m of cfg.models) {
      const w = W[m];
      const r = await post(servers[t].url + w.path, bodies[m]);
      let problem;
      if (r.status !== 200) problem = `HTTP ${r.status}: ${r.text.slice(0, 200)}`;
      else problem = compareOutputs(r.json?.outputs, t === 'echo' || !w.expected ? w.outputs : w.expected.outputs, w.tolerance);
      answers[`${t}/${m}`] = r.json?.outputs;
      if (problem) problems[`${t}/${m}`] = problem;
    }
  }
  // No golden output for text_encoder at seq 32: plain and infergate must agree with each other.
  if (cfg.models.includes('text_encoder') && answers['plain/text_encoder'] && answers['infergate/text_encoder']) {
    const exp = answers['plain/text_encoder'];
    const p = compareOutputs(answers['infergate/text_encoder'], exp, W.text_encoder.tolerance);
    if (p) problems['infergate/text_encoder'] = `differs from plain server: ${p}`;
  }
  for (const [k, p] of Object.entries(problems)) log(`bench: VALIDATION FAILED ${k}: ${p}`);
  if (Object.keys(problems).length === 0) log(`bench: responses validated (200, outputs as expected) for ${HTTP_TARGETS.join(', ')} x ${cfg.models.join(', ')}`);
  return problems;
}

// ---------------------------------------------------------------- load generation
/** One closed-loop autocannon run; latencies recorded per response with sub-ms precision. */
function cannon({ url, body, connections, seconds }) {
  return new Promise((resolve, reject) => {
    const lat = [];
    const codes = {};
    let ok = 0;
    let non2xx = 0;
    const t0 = performance.now();
    const inst = autocannon({
      url, method: 'POST', headers: { 'content-type': 'application/json' }, body,
      connections, pipelining: 1, duration: seconds, timeout: 30,
    }, (err, res) => {
      if (err) return reject(err);
      const wall = (performance.now() - t0) / 1000;
      const sorted = Float64Array.from(lat).sort();
      resolve({
        ok, non2xx, codes, errors: res.errors, timeouts: res.timeouts, seconds: wall,
        rps: ok / wall,
        p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99),
        mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : undefined,
      });
    });
    inst.on('response', (_client, status, _bytes, ms) => {
      codes[status] = (codes[status] ?? 0) + 1;
      if (status >= 200 && status < 300) {
        ok++;
        lat.push(ms);
      } else non2xx++;
    });
  });
}

async function infergateStats(model, version) {
  const r = await fetch(`${servers.infergate.url}/v2/models/${model}/versions/${version}/stats`);
  const s = (await r.json()).model_stats[0];
  return {
    inferences: s.inference_count, executions: s.execution_count,
    queueNs: s.inference_stats.queue.ns, queueCount: s.inference_stats.queue.count,
    // per execution (batch_stats); inference_stats.compute_* count each request of a batch (Triton's way)
    inferNs: s.batch_stats.reduce((n, b) => n + b.compute_infer.ns, 0),
    batches: Object.fromEntries(s.batch_stats.map((b) => [b.batch_size, b.compute_infer.count])),
  };
}

function statsDelta(a, b) {
  const ex = b.executions - a.executions;
  const inf = b.inferences - a.inferences;
  const q = b.queueCount - a.queueCount;
  return {
    executions: ex, inferences: inf,
    avgBatch: ex ? inf / ex : undefined,
    queueUs: q ? (b.queueNs - a.queueNs) / q / 1000 : undefined,
    inferUsPerExec: ex ? (b.inferNs - a.inferNs) / ex / 1000 : undefined,
    // executions per batch size during the cell
    batchSizes: Object.fromEntries(Object.entries(b.batches).map(([k, v]) => [k, v - (a.batches[k] ?? 0)]).filter(([, v]) => v > 0)),
  };
}

/** Several loads at once against one server; CPU time of the server and of this client around the measured part. */
async function measureLoads(target, loads) {
  const srv = servers[target];
  if (cfg.warmup > 0) {
    await Promise.all(loads.map((l) => cannon({ url: srv.url + W[l.model].path, body: bodies[l.model], connections: l.conns, seconds: cfg.warmup })));
  }
  const before = target === 'infergate' ? await Promise.all(loads.map((l) => infergateStats(l.model, W[l.model].version))) : undefined;
  const cpu0 = processCpuSeconds(srv.pid);
  const client0 = process.cpuUsage();
  const results = await Promise.all(loads.map((l) => cannon({ url: srv.url + W[l.model].path, body: bodies[l.model], connections: l.conns, seconds: cfg.duration })));
  const cpu = processCpuSeconds(srv.pid) - cpu0;
  const client = process.cpuUsage(client0);
  const after = target === 'infergate' ? await Promise.all(loads.map((l) => infergateStats(l.model, W[l.model].version))) : undefined;
  const total = results.reduce((n, r) => n + r.ok + r.non2xx, 0);
  return results.map((r, i) => ({
    ...r,
    serverCpuUsPerReq: total ? (cpu * 1e6) / total : undefined,
    serverCpuCores: cpu / r.seconds,
    clientCpuUsPerReq: total ? (client.user + client.system) / total : undefined,
    batcher: before ? statsDelta(before[i], after[i]) : undefined,
  }));
}

// ---------------------------------------------------------------- plan
function rotate(arr, k) {
  const n = arr.length;
  return n ? arr.map((_, i) => arr[(i + k) % n]) : arr;
}

/** Every round visits every cell group; within a group the targets' order rotates (A B C D, B C D A, ...). */
function plan() {
  const groups = [];
  const maxConn = Math.max(...cfg.conns);
  for (const m of cfg.models) {
    for (const c of cfg.conns) {
      const targets = [...HTTP_TARGETS];
      if (c === maxConn && cfg.targets.includes('ceiling')) targets.unshift('ceiling');
      groups.push({ kind: 'cell', model: m, conns: c, targets });
    }
  }
  if (runIsolation) groups.push({ kind: 'isolation', targets: ISO_TARGETS });
  const steps = [];
  for (let r = 0; r < cfg.rounds; r++) {
    groups.forEach((g, gi) => {
      for (const t of rotate(g.targets, r + gi)) steps.push({ round: r, ...g, target: t });
    });
  }
  return steps;
}

const fmt = (x, d = 0) => (x === undefined || x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
const fmtMs = (x) => (x === undefined ? 'n/a' : x < 10 ? x.toFixed(2) : x.toFixed(1));

// ---------------------------------------------------------------- main
async function main() {
  const steps = plan();
  const cellSecs = cfg.warmup + cfg.duration + 0.3;
  const ceilingSecs = (cfg.ceilingLayouts.length * cfg.ceilingBatches.length * (cfg.ceilingMs + 150)) / 1000 + 1.5;
  const estimate = steps.reduce((s, st) => s + (st.target === 'ceiling' ? ceilingSecs : cellSecs), 0);
  log(`bench: ${steps.length} measurements in ${cfg.rounds} round(s), about ${Math.ceil(estimate / 60)} min; models ${cfg.models.join(',')}; targets ${cfg.targets.join(',')}; connections ${cfg.conns.join(',')}${runIsolation ? '; isolation scenario' : ''}`);
  log(`bench: machine ${os.cpus().length} cores (${os.cpus()[0]?.model}), load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; other work on this machine skews absolute numbers, compare ratios`);

  await startTargets();
  const validation = HTTP_TARGETS.length ? await validate() : {};
  await sleep(300);

  const raw = [];
  for (let i = 0; i < steps.length; i++) {
    const st = steps[i];
    const tag = `[${String(i + 1).padStart(3)}/${steps.length} ${elapsed()} r${st.round + 1}]`;
    if (st.target === 'ceiling') {
      const res = await measureCeiling({ model: st.model, batches: cfg.ceilingBatches, layouts: cfg.ceilingLayouts, ms: cfg.ceilingMs });
      raw.push({ kind: 'ceiling', round: st.round, model: st.model, ...res });
      log(`${tag} ${st.model.padEnd(12)} ceiling        best ${fmt(res.best.rowsPerSec)} rows/s (${res.best.layout} workers x intra-op threads, batch ${res.best.batch}); batch 1 best ${fmt(Math.max(...res.rows.filter((r) => r.batch === 1).map((r) => r.rowsPerSec)))} rows/s`);
    } else if (st.kind === 'cell') {
      const [r] = await measureLoads(st.target, [{ model: st.model, conns: st.conns }]);
      raw.push({ kind: 'cell', round: st.round, model: st.model, conns: st.conns, target: st.target, ...r });
      const err = r.non2xx + r.errors + r.timeouts;
      const b = r.batcher?.avgBatch !== undefined ? ` batch ${r.batcher.avgBatch.toFixed(1)}` : '';
      log(`${tag} ${st.model.padEnd(12)} c=${String(st.conns).padEnd(3)} ${st.target.padEnd(9)} ${fmt(r.rps).padStart(6)} req/s  p50 ${fmtMs(r.p50)} p90 ${fmtMs(r.p90)} p99 ${fmtMs(r.p99)} ms  cpu ${fmt(r.serverCpuUsPerReq)} us/req${b}${err ? `  ERRORS ${err} (non-2xx ${r.non2xx}, conn errors ${r.errors}, timeouts ${r.timeouts}, codes ${JSON.stringify(r.codes)})` : ''}`);
    } else {
      const [tab, text] = await measureLoads(st.target, [
        { model: 'tabular_mlp', conns: cfg.isolationConns },
        { model: 'text_encoder', conns: cfg.isolationConns },
      ]);
      raw.push({ kind: 'isolation', round: st.round, target: st.target, tabular_mlp: tab, text_encoder: text });
      const err = tab.non2xx + tab.errors + tab.timeouts + text.non2xx + text.errors + text.timeouts;
      log(`${tag} isolation    c=${cfg.isolationConns}+${cfg.isolationConns} ${st.target.padEnd(9)} tabular_mlp ${fmt(tab.rps)} req/s p99 ${fmtMs(tab.p99)} ms | text_encoder ${fmt(text.rps)} req/s p99 ${fmtMs(text.p99)} ms${err ? `  ERRORS ${err}` : ''}`);
    }
  }

  const report = summarize(raw, validation);
  mkdirSync(cfg.out, { recursive: true });
  writeFileSync(join(cfg.out, 'latest.md'), report.markdown);
  writeFileSync(join(cfg.out, 'latest.json'), JSON.stringify({
    config: cfg, startedAt: new Date(started).toISOString(), seconds: (Date.now() - started) / 1000,
    machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, loadavgAtEnd: os.loadavg(), node: process.version },
    validation, summary: report.summary, checks: report.checks, raw,
  }, null, 2));
  process.stdout.write(report.markdown);
  log(`bench: done in ${elapsed()}; wrote ${join(cfg.out, 'latest.md')} and latest.json`);
}

// ---------------------------------------------------------------- report
function summarize(raw, validation) {
  const med = (rows, key) => median(rows.map((r) => (typeof key === 'function' ? key(r) : r[key])));
  const cells = {};
  for (const m of cfg.models) {
    for (const c of cfg.conns) {
      for (const t of HTTP_TARGETS) {
        const rows = raw.filter((r) => r.kind === 'cell' && r.model === m && r.conns === c && r.target === t);
        if (!rows.length) continue;
        const errors = rows.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0);
        cells[`${m}/${c}/${t}`] = {
          model: m, conns: c, target: t, rounds: rows.length,
          rps: med(rows, 'rps'), p50: med(rows, 'p50'), p90: med(rows, 'p90'), p99: med(rows, 'p99'),
          serverCpuUsPerReq: med(rows, 'serverCpuUsPerReq'), serverCpuCores: med(rows, 'serverCpuCores'),
          clientCpuUsPerReq: med(rows, 'clientCpuUsPerReq'),
          avgBatch: t === 'infergate' ? med(rows, (r) => r.batcher?.avgBatch) : undefined,
          queueUs: t === 'infergate' ? med(rows, (r) => r.batcher?.queueUs) : undefined,
          errors, invalid: validation[`${t}/${m}`],
          spread: rows.length > 1 ? (Math.max(...rows.map((r) => r.rps)) - Math.min(...rows.map((r) => r.rps))) / med(rows, 'rps') : undefined,
        };
      }
    }
  }
  const ceilings = {};
  for (const m of cfg.models) {
    const rows = raw.filter((r) => r.kind === 'ceiling' && r.model === m);
    if (!rows.length) continue;
    const sweep = {};
    for (const r of rows) for (const x of r.rows) (sweep[`${x.layout}/${x.batch}`] ??= []).push(x.rowsPerSec);
    const sweepMed = Object.fromEntries(Object.entries(sweep).map(([k, v]) => [k, median(v)]));
    const bestKey = Object.entries(sweepMed).reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    const batch1 = Math.max(...Object.entries(sweepMed).filter(([k]) => k.endsWith('/1')).map(([, v]) => v));
    ceilings[m] = { rowsPerSec: med(rows, (r) => r.best.rowsPerSec), bestMedianConfig: bestKey, batch1RowsPerSec: batch1, sweep: sweepMed };
  }
  const iso = {};
  for (const t of ISO_TARGETS) {
    const rows = raw.filter((r) => r.kind === 'isolation' && r.target === t);
    if (!rows.length) continue;
    iso[t] = {
      rounds: rows.length,
      tabP50: med(rows, (r) => r.tabular_mlp.p50), tabP99: med(rows, (r) => r.tabular_mlp.p99), tabRps: med(rows, (r) => r.tabular_mlp.rps),
      textP50: med(rows, (r) => r.text_encoder.p50), textP99: med(rows, (r) => r.text_encoder.p99), textRps: med(rows, (r) => r.text_encoder.rps),
      serverCpuUsPerReq: med(rows, (r) => r.tabular_mlp.serverCpuUsPerReq),
      errors: rows.reduce((n, r) => n + r.tabular_mlp.non2xx + r.tabular_mlp.errors + r.tabular_mlp.timeouts + r.text_encoder.non2xx + r.text_encoder.errors + r.text_encoder.timeouts, 0),
    };
  }

  // ratio checks against the issue's targets
  const checks = [];
  const cell = (m, c, t) => cells[`${m}/${c}/${t}`];
  const check = (name, value, op, target, against, unit = 'x') => {
    const pass = value === undefined ? undefined : op === '>=' ? value >= target : value <= target;
    checks.push({ name, value, op, target, against, unit, pass });
  };
  const hi = Math.max(...cfg.conns);
  if (cfg.models.includes('text_encoder')) {
    const ig = cell('text_encoder', hi, 'infergate');
    const ce = ceilings.text_encoder;
    check(`text_encoder (seq ${TEXT_SEQ}) @${hi}: infergate req/s / compute ceiling rows/s`, ig && ce ? ig.rps / ce.rowsPerSec : undefined, '>=', 0.85,
      ce ? `ceiling ${fmt(ce.rowsPerSec)} rows/s (best median config ${ce.bestMedianConfig} = workers x intra-op threads / batch)` : 'ceiling not measured');
    const pl = cell('text_encoder', hi, 'plain');
    check(`text_encoder (seq ${TEXT_SEQ}) @${hi}: infergate / plain throughput`, ig && pl ? ig.rps / pl.rps : undefined, '>=', 1.3, pl ? `plain ${fmt(pl.rps)} req/s` : 'plain not measured');
  }
  for (const m of ['tabular_mlp', 'simple'].filter((x) => cfg.models.includes(x))) {
    const ig = cell(m, hi, 'infergate');
    const pl = cell(m, hi, 'plain');
    const ec = cell(m, hi, 'echo');
    check(`${m} @${hi}: infergate / plain throughput`, ig && pl ? ig.rps / pl.rps : undefined, '>=', 1.0, pl ? `plain ${fmt(pl.rps)} req/s` : 'plain not measured');
    check(`${m} @${hi}: infergate / http-ceiling (echo) throughput`, ig && ec ? ig.rps / ec.rps : undefined, '>=', 0.5, ec ? `echo ${fmt(ec.rps)} req/s` : 'echo not measured');
  }
  if (iso.infergate || iso.plain) {
    check(`isolation: tabular_mlp p99 @${cfg.isolationConns} with text_encoder @${cfg.isolationConns}, infergate / plain`,
      iso.infergate && iso.plain ? iso.infergate.tabP99 / iso.plain.tabP99 : undefined, '<=', 0.25,
      iso.plain ? `plain p99 ${fmtMs(iso.plain.tabP99)} ms` : 'plain not measured');
  }
  if (cfg.conns.includes(1)) {
    for (const m of cfg.models) {
      const ig = cell(m, 1, 'infergate');
      const pl = cell(m, 1, 'plain');
      check(`${m} @1: p50 infergate - plain`, ig && pl ? ig.p50 - pl.p50 : undefined, '<=', 0.15, pl ? `plain p50 ${fmtMs(pl.p50)} ms` : 'plain not measured', 'ms');
    }
  }

  // markdown
  const L = [];
  L.push(`# infergate benchmark`, '');
  L.push(`${new Date(started).toISOString()}, ${os.cpus().length} cores (${os.cpus()[0]?.model}), Node ${process.version}. ` +
    `${cfg.rounds} interleaved round(s), ${cfg.duration} s per cell after ${cfg.warmup} s warm-up, closed loop (autocannon, pipelining 1), batch 1 per request. ` +
    `Figures are medians across rounds. Server CPU = utime+stime of the server process (all threads) / completed requests. ` +
    `The machine is shared and noisy: compare ratios, not absolute numbers.`, '');
  if (Object.keys(validation).length) {
    L.push(`**Validation failures** (cells marked INVALID):`, '');
    for (const [k, p] of Object.entries(validation)) L.push(`- ${k}: ${p}`);
    L.push('');
  }
  L.push('## Checks against the issue\'s targets', '');
  L.push('| check | value | target | checked against | result |', '| --- | ---: | --- | --- | --- |');
  for (const c of checks) {
    const v = c.value === undefined ? 'n/a' : c.unit === 'ms' ? `${c.value >= 0 ? '+' : ''}${c.value.toFixed(3)} ms` : `${c.value.toFixed(2)}x`;
    const t = c.unit === 'ms' ? `${c.op} +${c.target} ms` : `${c.op} ${c.target}x`;
    L.push(`| ${c.name} | ${v} | ${t} | ${c.against} | ${c.pass === undefined ? 'n/a' : c.pass ? 'PASS' : '**MISS**'} |`);
  }
  L.push('');
  L.push('## Throughput and latency per cell', '');
  L.push('| model | conns | target | req/s | p50 ms | p90 ms | p99 ms | server CPU us/req | server cores busy | infergate avg batch | notes |');
  L.push('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const m of cfg.models) {
    for (const c of cfg.conns) {
      for (const t of HTTP_TARGETS) {
        const x = cell(m, c, t);
        if (!x) continue;
        const notes = [];
        if (x.errors) notes.push(`**ERRORS: ${x.errors} non-2xx/failed**`);
        if (x.invalid) notes.push(`**INVALID: ${x.invalid}**`);
        if (x.spread !== undefined && x.spread > 0.15) notes.push(`rounds differ by ${(x.spread * 100).toFixed(0)}%`);
        if (x.queueUs !== undefined) notes.push(`queue ${fmt(x.queueUs)} us`);
        L.push(`| ${m} | ${c} | ${t} | ${fmt(x.rps)} | ${fmtMs(x.p50)} | ${fmtMs(x.p90)} | ${fmtMs(x.p99)} | ${fmt(x.serverCpuUsPerReq)} | ${fmt(x.serverCpuCores, 2)} | ${x.avgBatch !== undefined ? fmt(x.avgBatch, 1) : ''} | ${notes.join('; ')} |`);
      }
    }
  }
  L.push('');
  if (Object.keys(ceilings).length) {
    L.push('## Compute ceiling (onnxruntime-node in-process, no HTTP)', '');
    const keys = Object.keys(Object.values(ceilings)[0].sweep);
    L.push(`| model | best rows/s | best config | batch-1 best rows/s | ${keys.join(' | ')} |`);
    L.push(`| --- | ---: | --- | ---: | ${keys.map(() => '---:').join(' | ')} |`);
    for (const [m, c] of Object.entries(ceilings)) {
      L.push(`| ${m} | ${fmt(c.rowsPerSec)} | ${c.bestMedianConfig} | ${fmt(c.batch1RowsPerSec)} | ${keys.map((k) => fmt(c.sweep[k])).join(' | ')} |`);
    }
    L.push('', 'Config = WORKERS x INTRA_OP_THREADS / batch size; rows/s. "best rows/s" is the median over rounds of each round\'s best.', '');
  }
  if (Object.keys(iso).length) {
    L.push(`## Isolation: tabular_mlp @${cfg.isolationConns} connections while text_encoder (seq ${TEXT_SEQ}) runs @${cfg.isolationConns} more`, '');
    L.push('| target | tabular_mlp req/s | tabular_mlp p50 ms | tabular_mlp p99 ms | text_encoder req/s | text_encoder p99 ms | server CPU us/req | notes |');
    L.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const [t, x] of Object.entries(iso)) {
      L.push(`| ${t} | ${fmt(x.tabRps)} | ${fmtMs(x.tabP50)} | ${fmtMs(x.tabP99)} | ${fmt(x.textRps)} | ${fmtMs(x.textP99)} | ${fmt(x.serverCpuUsPerReq)} | ${x.errors ? `**ERRORS: ${x.errors}**` : ''} |`);
    }
    L.push('');
  }
  return { markdown: L.join('\n') + '\n', summary: { cells, ceilings, isolation: iso }, checks };
}

try {
  await main();
} finally {
  await Promise.all(Object.values(servers).map((s) => stopServer(s)));
}
