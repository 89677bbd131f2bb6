// Profiles infergate under one load: starts the CLI with --cpu-prof (main thread and worker
// threads each write a .cpuprofile), drives one model with autocannon, stops the server
// cleanly, then prints where each thread spent its time (self time, by function and by package)
// and the model's Triton-style statistics for the run.
//
//   node bench/profile.mjs --model simple --conns 1 [--duration 5] [--top 25] [--dir bench/results/profile]
//        [--infergate-args "--pool-size 2"] [--model-repository DIR] [--no-prof]
import autocannon from 'autocannon';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags, processCpuSeconds, startServer, stopServer, workloads } from './lib.mjs';

const f = parseFlags(process.argv.slice(2));
const model = String(f.model ?? 'simple');
const conns = Number(f.conns ?? 1);
const duration = Number(f.duration ?? 5);
const top = Number(f.top ?? 25);
const dir = String(f.dir ?? 'bench/results/profile');
const w = workloads()[model];
if (!w) throw new Error(`unknown model '${model}'`);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

const repo = String(f['model-repository'] ?? 'models');
const prof = f['no-prof'] === true ? [] : ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '200'];
const extra = f['infergate-args'] ? String(f['infergate-args']).split(/\s+/).filter(Boolean) : [];
const srv = await startServer('infergate', [
  ...prof,
  'dist/cli/main.js', 'serve', '--host', '127.0.0.1', '--http-port=0', '--grpc-port=-1', '--metrics-port=-1',
  '--model-repository', repo, '--model-control-mode', 'explicit', '--load-model', model, '--log-level', 'warn', ...extra,
], /infergate: listening\s+HTTP\s+(http:\/\/\S+)/);
const url = srv.url + w.path;
const body = JSON.stringify(w.request);
const run = (seconds) => new Promise((res, rej) => {
  const lat = [];
  const inst = autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: conns, pipelining: 1, duration: seconds },
    (err, r) => (err ? rej(err) : res({ r, lat })));
  inst.on('response', (_c, status, _b, ms) => status === 200 && lat.push(ms));
});
await run(1);
const stats = async () => (await (await fetch(`${srv.url}/v2/models/${model}/versions/${w.version}/stats`)).json()).model_stats[0];
const s0 = await stats();
const cpu0 = processCpuSeconds(srv.pid);
const { r, lat } = await run(duration);
const cpu = processCpuSeconds(srv.pid) - cpu0;
const s1 = await stats();
await stopServer(srv, 20000);

lat.sort((a, b) => a - b);
const n = lat.length;
console.log(`\n== ${model} @${conns} connections, ${duration}s: ${(n / duration).toFixed(0)} req/s, p50 ${lat[n >> 1]?.toFixed(3)} ms, p99 ${lat[Math.floor(n * 0.99)]?.toFixed(3)} ms, non-2xx ${r.non2xx}, server CPU ${(cpu * 1e6 / n).toFixed(0)} us/req (${(cpu / duration).toFixed(2)} cores)`);
const d = (k) => ({ count: s1.inference_stats[k].count - s0.inference_stats[k].count, ns: s1.inference_stats[k].ns - s0.inference_stats[k].ns });
const per = (x, by) => (by ? (x.ns / by / 1000).toFixed(1) : 'n/a');
const execs = s1.execution_count - s0.execution_count;
const infs = s1.inference_count - s0.inference_count;
// batch_stats hold per-execution times; inference_stats.compute_* count every request of a batch (Triton's way).
const bsum = (s, k) => s.batch_stats.reduce((n, b) => n + b[k].ns, 0);
const pe = (k) => ((bsum(s1, k) - bsum(s0, k)) / execs / 1000).toFixed(1);
console.log(`stats: ${infs} inferences in ${execs} executions (avg batch ${(infs / execs).toFixed(2)}); per request: success ${per(d('success'), d('success').count)} us, queue ${per(d('queue'), d('queue').count)} us; per execution: compute_input ${pe('compute_input')} us, compute_infer ${pe('compute_infer')} us, compute_output ${pe('compute_output')} us`);
const hist = new Map();
for (const b of s1.batch_stats) hist.set(b.batch_size, b.compute_infer.count - (s0.batch_stats.find((x) => x.batch_size === b.batch_size)?.compute_infer.count ?? 0));
console.log(`batch sizes (executions): ${[...hist].filter(([, c]) => c > 0).sort((a, b) => a[0] - b[0]).map(([b, c]) => `${b}:${c}`).join(' ')}`);

// ---- profiles
function pkg(url) {
  if (!url) return '(native/vm)';
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) return m[1];
  if (url.startsWith('node:')) return 'node-core';
  const d = url.match(/\/dist\/(.*)$/);
  if (d) return `infergate:${d[1].split('/').slice(0, 2).join('/')}`;
  return url.replace(/^file:\/\//, '');
}
for (const file of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile')).sort()) {
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map();
  for (let i = 0; i < p.samples.length; i++) {
    const node = byId.get(p.samples[i]);
    const dt = p.timeDeltas[i] ?? 0;
    self.set(node, (self.get(node) ?? 0) + dt);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map();
  const byPkg = new Map();
  let idle = 0;
  for (const [node, us] of self) {
    const cf = node.callFrame;
    if (cf.functionName === '(idle)') idle += us;
    const key = `${cf.functionName || '(anonymous)'} ${cf.url ? cf.url.replace(/^.*\/(node_modules|dist)\//, '$1/') + ':' + (cf.lineNumber + 1) : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const k = cf.functionName.startsWith('(') ? cf.functionName : pkg(cf.url);
    byPkg.set(k, (byPkg.get(k) ?? 0) + us);
  }
  const busy = total - idle;
  console.log(`\n-- ${file}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(2)} s not idle`);
  console.log('   by package (share of non-idle): ' + [...byPkg].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 10)
    .map(([k, v]) => `${k} ${(100 * v / busy).toFixed(1)}%`).join(', '));
  for (const [k, v] of [...byFn].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`   ${(100 * v / busy).toFixed(1).padStart(5)}%  ${k}`);
  }
}
