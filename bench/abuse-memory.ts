/**
 * Memory after abuse (issue 10, point 10): is the RSS a server keeps after a run of
 * malformed requests JS heap (ours to bound) or allocator retention?
 *
 *   npm run build && npx tsx bench/abuse-memory.ts [--rounds 3] [--count 22000] [--malloc-arena-max 2]
 *
 * Starts the built CLI (`node dist/cli/main.js serve` on the sample models, with
 * --heapsnapshot-signal), sends `count` malformed requests per round (HTTP JSON, HTTP binary,
 * gRPC; test/helpers/malformed.ts, seed = round), and reads the process's own figures from
 * /metrics after each round: RSS, V8 heap used and committed, external memory (Buffers).
 * After each round SIGUSR2 makes node write a heap snapshot, which runs a full GC first; the
 * heap used after it is what the JS heap really retains. RSS minus that is V8's committed but
 * free heap plus what malloc keeps from freed Buffers (allocator retention).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadPackageDefinition, credentials, type ServiceClientConstructor } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS } from '../src/api/grpc/proto.js';
import { runCases } from '../test/helpers/fuzz-client.js';
import { malformedRequests } from '../test/helpers/malformed.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, count: { type: 'string', default: '22000' }, 'malloc-arena-max': { type: 'string' } },
});
const ROOT = resolve(import.meta.dirname, '..');
const cwd = mkdtempSync(join(tmpdir(), 'infergate-abuse-'));
const env = { ...process.env, ...(values['malloc-arena-max'] ? { MALLOC_ARENA_MAX: values['malloc-arena-max'] } : {}) };
const child = spawn(process.execPath, [
  '--heapsnapshot-signal=SIGUSR2', join(ROOT, 'dist/cli/main.js'), 'serve', '--model-repository', join(ROOT, 'models'),
  '--host', '127.0.0.1', '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--log-level', 'error',
], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });

let out = '';
await new Promise<void>((ok, fail) => {
  child.stdout!.on('data', (d) => {
    out += d;
    if (/\nmodels:\n/.test(out)) ok();
  });
  child.on('exit', () => fail(new Error(`server exited:\n${out}`)));
});
const httpUrl = /HTTP\s+(http:\/\/\S+)/.exec(out)![1];
const grpcPort = /gRPC\s+grpc:\/\/\S+:(\d+)/.exec(out)![1];
const metricsUrl = /Metrics\s+(http:\/\/\S+)/.exec(out)![1];

const MB = 1024 * 1024;
async function figures(label: string): Promise<void> {
  const text = await (await fetch(metricsUrl)).text();
  const g = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / MB;
  const row = [g('process_resident_memory_bytes'), g('nodejs_heap_size_used_bytes'), g('nodejs_heap_size_total_bytes'), g('nodejs_external_memory_bytes')];
  console.log(`${label.padEnd(26)} ${row.map((x) => x.toFixed(0).padStart(8)).join(' ')}`);
}

/** A full GC in the server: node writes a heap snapshot on SIGUSR2 and collects before it. */
async function fullGc(): Promise<void> {
  child.kill('SIGUSR2');
  while (!readdirSync(cwd).some((f) => f.endsWith('.heapsnapshot'))) await new Promise((r) => setTimeout(r, 100));
  // The snapshot is written once the file stops growing; then remove it.
  await new Promise((r) => setTimeout(r, 2000));
  for (const f of readdirSync(cwd)) rmSync(join(cwd, f), { force: true });
}

const def = loadPackageDefinition(protoLoader.loadSync('grpc_predict_v2.proto', LOADER_OPTIONS));
const Svc = (def.inference as Record<string, unknown>).GRPCInferenceService as ServiceClientConstructor;
const grpc = new Svc(`127.0.0.1:${grpcPort}`, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });

console.log(`MALLOC_ARENA_MAX=${env.MALLOC_ARENA_MAX ?? '(glibc default)'}; MiB:`);
console.log(`${''.padEnd(26)} ${['RSS', 'heapUsed', 'heapTotal', 'external'].map((h) => h.padStart(8)).join(' ')}`);
await figures('start');
// The first snapshot itself costs RSS (its writer's buffers); a GC'd start is the fair baseline.
await fullGc();
await figures('start, after a full GC');
for (let round = 1; round <= Number(values.rounds); round++) {
  const outcomes = await runCases(malformedRequests(round, Number(values.count)), httpUrl, grpc, 8);
  const bad = outcomes.filter((o) => o.status >= 500 || o.status <= 0).length;
  await figures(`round ${round} (${bad} >= 500)`);
  await fullGc();
  await figures(`round ${round}, after a full GC`);
}
grpc.close();
child.kill('SIGTERM');
await new Promise((r) => child.on('exit', r));
rmSync(cwd, { recursive: true, force: true });
