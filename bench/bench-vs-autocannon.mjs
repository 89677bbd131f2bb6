// Cross-checks `infergate bench` against an independent load generator (autocannon) on the
// same URL, request and concurrency, interleaved in one run (issue: within 10% on throughput).
// Also writes every `infergate bench` report format once, for simple and text_encoder over
// HTTP and gRPC, and a text_encoder SLO search (-l 50).
//
//   npm run build && node bench/bench-vs-autocannon.mjs [--seconds 5] [--out bench/results/cross]
import autocannon from 'autocannon';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { HOST, ROOT, parseFlags, startServer, stopServer, workloads } from './lib.mjs';

const f = parseFlags(process.argv.slice(2));
const seconds = Number(f.seconds ?? 5);
const out = String(f.out ?? join(ROOT, 'bench/results/cross'));
mkdirSync(out, { recursive: true });
const W = workloads();

const grpcPort = await freePort();
const srv = await startServer('infergate', [
  'dist/cli/main.js', 'serve', '--host', HOST, '--http-port=0', `--grpc-port=${grpcPort}`, '--metrics-port=-1', '--log-level', 'warn',
], /HTTP\s+(http:\/\/\S+)/);
const http = new URL(srv.url);

/** Runs `infergate bench` as a user would and returns its JSON report. */
function igBench(model, args, tag) {
  const inputFile = join(out, `${model}-input.json`);
  writeFileSync(inputFile, JSON.stringify(W[model].request));
  const base = join(out, tag);
  execFileSync(process.execPath, [
    'dist/cli/main.js', 'bench', '-m', model, '--input-data', inputFile, '-p', String(seconds * 1000), '-r', '3',
    '--json', `${base}.json`, '-f', `${base}.csv`, '--html', `${base}.html`, ...args,
  ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(readFileSync(`${base}.json`, 'utf8'));
}

async function autocannonRps(model, connections) {
  const w = W[model];
  const r = await autocannon({
    url: `http://${HOST}:${http.port}${w.path}`, method: 'POST', connections, duration: seconds,
    headers: { 'content-type': 'application/json' }, body: JSON.stringify(w.request),
  });
  if (r.non2xx || r.errors) throw new Error(`autocannon saw ${r.non2xx} non-2xx and ${r.errors} errors`);
  return r.requests.average;
}

const rpsOf = (report) => report.steps[0].requestsPerSec;

const lines = ['| model | concurrency | infergate bench req/s | autocannon req/s | ratio |', '| --- | ---: | ---: | ---: | ---: |'];
for (const [model, conc] of [['simple', 16], ['text_encoder', 16]]) {
  const a = [], b = [];
  for (let round = 0; round < 2; round++) {
    // Interleaved: A B, then B A.
    const order = round === 0 ? ['bench', 'ac'] : ['ac', 'bench'];
    for (const which of order) {
      if (which === 'bench') a.push(rpsOf(igBench(model, ['-u', `${HOST}:${http.port}`, '--http-format', 'json', '--concurrency-range', String(conc)], `${model}-http-json-c${conc}-r${round}`)));
      else b.push(await autocannonRps(model, conc));
      process.stderr.write(`cross: ${model} c=${conc} ${which} done\n`);
    }
  }
  const ig = (a[0] + a[1]) / 2, ac = (b[0] + b[1]) / 2;
  lines.push(`| ${model} | ${conc} | ${ig.toFixed(0)} | ${ac.toFixed(0)} | ${(ig / ac).toFixed(3)} |`);
}

// Every report format over both protocols, and the SLO search for text_encoder.
for (const model of ['simple', 'text_encoder']) {
  igBench(model, ['-u', `${HOST}:${grpcPort}`, '-i', 'grpc', '--concurrency-range', '1:16:15'], `${model}-grpc`);
  igBench(model, ['-u', `${HOST}:${http.port}`, '--concurrency-range', '1:16:15'], `${model}-http-binary`);
}
process.stderr.write('cross: text_encoder SLO search\n');
const slo = execFileSync(process.execPath, [
  'dist/cli/main.js', 'bench', '-m', 'text_encoder', '-u', `${HOST}:${http.port}`, '--input-data', join(out, 'text_encoder-input.json'),
  '--concurrency-range', '1:64:8', '-l', '50', '-p', String(seconds * 1000), '-r', '3', '--html', join(out, 'text_encoder-slo.html'),
], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
await stopServer(srv);

const report = `# infergate bench vs autocannon\n\n${lines.join('\n')}\n\n## text_encoder, HTTP, p99 SLO 50 ms\n\n\`\`\`\n${slo.trim()}\n\`\`\`\n`;
writeFileSync(join(out, 'cross.md'), report);
process.stdout.write(report);

/** A port that was free a moment ago (loopback only). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}
