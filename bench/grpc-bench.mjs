// gRPC load generator: closed loop (each of N workers sends its next request when the last
// one is answered) against infergate and, in the same run, against a plain grpc-js echo
// server (the ceiling); then text_encoder over gRPC vs HTTP JSON (autocannon) at 64.
// Runs are interleaved A B B A in 5 s windows and averaged, since this box is noisy.
//
// Usage: npm run build && node bench/grpc-bench.mjs [--seconds 5]
// Writes bench/results/grpc-bench-<time>.json and prints a markdown table.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
// @ts-expect-error autocannon ships no type declarations
import autocannon from 'autocannon';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '5' } } });
const SECONDS = Number(args.seconds);
const CONCURRENCY = [1, 16, 64];
const TEXT_SEQ = 32;

// Requests are encoded once up front and responses kept as bytes during a window, so the
// load generator spends its CPU on gRPC itself, not on protobuf objects; one response per
// target is decoded and checked before measuring.
const root = new protobuf.Root().loadSync(join(ROOT, 'proto', 'grpc_predict_v2.proto'), { keepCase: true });
const InferRequest = root.lookupType('inference.ModelInferRequest');
const InferResponse = root.lookupType('inference.ModelInferResponse');
const MODEL_INFER = '/inference.GRPCInferenceService/ModelInfer';
const MODEL_STREAM_INFER = '/inference.GRPCInferenceService/ModelStreamInfer';
const StreamResponse = root.lookupType('inference.ModelStreamInferResponse');

/** @param {object} msg */
const encodeRequest = (msg) => Buffer.from(InferRequest.encode(InferRequest.fromObject(msg)).finish());

const simpleA = Int32Array.from({ length: 16 }, (_, i) => i);
const simpleB = Int32Array.from({ length: 16 }, (_, i) => 3 * i + 1);
const simpleRequest = encodeRequest({
  model_name: 'simple',
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16] },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] },
  ],
  raw_input_contents: [Buffer.from(simpleA.buffer), Buffer.from(simpleB.buffer)],
});
const tokenIds = Array.from({ length: TEXT_SEQ }, (_, i) => (i * 7919 + 13) % 8192);
const textMsg = {
  model_name: 'text_encoder',
  inputs: [
    { name: 'input_ids', datatype: 'INT64', shape: [1, TEXT_SEQ] },
    { name: 'attention_mask', datatype: 'INT64', shape: [1, TEXT_SEQ] },
  ],
  raw_input_contents: [
    Buffer.from(BigInt64Array.from(tokenIds.map(BigInt)).buffer),
    Buffer.from(BigInt64Array.from(tokenIds.map(() => 1n)).buffer),
  ],
};
const textRequest = encodeRequest(textMsg);
const textJson = JSON.stringify({
  inputs: [
    { name: 'input_ids', datatype: 'INT64', shape: [1, TEXT_SEQ], data: tokenIds },
    { name: 'attention_mask', datatype: 'INT64', shape: [1, TEXT_SEQ], data: tokenIds.map(() => 1) },
  ],
});

/** Children to stop however this process ends. @type {import('node:child_process').ChildProcess[]} */
const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGTERM')));
for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) process.once(sig, () => process.exit(130));

/**
 * Starts a child process and resolves with the matches of `patterns` in its stdout.
 * @param {string[]} argv @param {RegExp[]} patterns @param {Record<string, string>} [env]
 * @returns {Promise<{ child: import('node:child_process').ChildProcess, found: string[] }>}
 */
function startChild(argv, patterns, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    /** @type {(string | undefined)[]} */
    const found = patterns.map(() => undefined);
    let text = '';
    const timer = setTimeout(() => reject(new Error(`${argv.join(' ')} did not start within 60 s; output so far:\n${text}`)), 60_000);
    child.stdout?.on('data', (chunk) => {
      text += chunk;
      patterns.forEach((p, i) => {
        const m = p.exec(text);
        if (m) found[i] = m[1];
      });
      if (found.every((x) => x !== undefined)) {
        clearTimeout(timer);
        resolve({ child, found: /** @type {string[]} */ (found) });
      }
    });
    child.on('exit', (code) => reject(new Error(`${argv.join(' ')} exited with ${code} before listening; did you run npm run build?\n${text}`)));
  });
}

/**
 * One unary call with pre-encoded bytes in and raw bytes out.
 * @param {grpc.Client} client @param {Buffer} payload @returns {Promise<Buffer>}
 */
function rawCall(client, payload) {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(MODEL_INFER, (/** @type {Buffer} */ b) => b, (b) => b, payload, (err, res) => (err ? reject(err) : resolve(/** @type {Buffer} */ (res))));
  });
}

/** @param {number[]} sorted @param {number} p */
const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

/**
 * Closed loop for `seconds`: `concurrency` workers each keep one request in flight.
 * @param {grpc.Client} client @param {Buffer} payload @param {number} concurrency @param {number} seconds
 */
async function closedLoop(client, payload, concurrency, seconds) {
  /** @type {number[]} */
  const lat = [];
  let errors = 0;
  /** @type {string | undefined} */
  let firstError;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const end = t0 + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const s = performance.now();
      try {
        await rawCall(client, payload);
        lat.push(performance.now() - s);
      } catch (err) {
        errors++;
        firstError ??= /** @type {Error} */ (err).message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  return { rps: lat.length / elapsed, p50: pct(lat, 50), p99: pct(lat, 99), n: lat.length, errors, firstError, clientCpu: (cpu.user + cpu.system) / 1e6 / elapsed };
}

/**
 * Closed loop on one ModelStreamInfer stream: `concurrency` slots, each with one request in
 * flight (its id is the slot number); an answer frees its slot for the next request.
 * @param {grpc.Client} client @param {object} msg @param {number} concurrency @param {number} seconds
 */
function streamLoop(client, msg, concurrency, seconds) {
  const payloads = Array.from({ length: concurrency }, (_, i) => encodeRequest({ ...msg, id: String(i) }));
  /** @type {number[]} */
  const lat = [];
  const sentAt = new Array(concurrency).fill(0);
  let errors = 0;
  /** @type {string | undefined} */
  let firstError;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const stream = client.makeBidiStreamRequest(MODEL_STREAM_INFER, (/** @type {Buffer} */ b) => b, (b) => b);
  let open = concurrency;
  return new Promise((resolve, reject) => {
    const send = (/** @type {number} */ slot) => {
      sentAt[slot] = performance.now();
      stream.write(payloads[slot]);
    };
    stream.on('data', (/** @type {Buffer} */ buf) => {
      const m = /** @type {any} */ (StreamResponse.decode(buf));
      const slot = Number(m.infer_response?.id);
      const now = performance.now();
      if (m.error_message) {
        errors++;
        firstError ??= m.error_message;
      } else lat.push(now - sentAt[slot]);
      if (now < end) send(slot);
      else if (--open === 0) stream.end();
    });
    stream.on('error', reject);
    stream.on('end', () => {
      const elapsed = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      lat.sort((a, b) => a - b);
      resolve({ rps: lat.length / elapsed, p50: pct(lat, 50), p99: pct(lat, 99), n: lat.length, errors, firstError, clientCpu: (cpu.user + cpu.system) / 1e6 / elapsed });
    });
    for (let i = 0; i < concurrency; i++) send(i);
  });
}

/**
 * HTTP JSON closed loop with autocannon.
 * @param {string} url @param {number} concurrency @param {number} seconds
 */
async function httpLoop(url, concurrency, seconds) {
  const cpu0 = process.cpuUsage();
  const r = await autocannon({ url, method: 'POST', connections: concurrency, duration: seconds, headers: { 'content-type': 'application/json' }, body: textJson });
  const ok = r.requests.total - r.non2xx;
  const cpu = process.cpuUsage(cpu0);
  return { rps: ok / seconds, p50: r.latency.p50, p99: r.latency.p99, n: ok, errors: r.errors + r.non2xx + r.timeouts, firstError: undefined, clientCpu: (cpu.user + cpu.system) / 1e6 / seconds };
}

/** @typedef {{ rps: number, p50: number, p99: number, n: number, errors: number, firstError?: string, clientCpu: number, meanBatch?: number }} Window */

/** Mean of the windows of one target (the A B B A runs). @param {Window[]} ws */
function mean(ws) {
  const avg = (/** @type {(w: Window) => number} */ f) => ws.reduce((s, w) => s + f(w), 0) / ws.length;
  return {
    rps: avg((w) => w.rps), p50: avg((w) => w.p50), p99: avg((w) => w.p99), clientCpu: avg((w) => w.clientCpu),
    meanBatch: ws[0].meanBatch === undefined ? undefined : avg((w) => w.meanBatch ?? 0),
    errors: ws.reduce((s, w) => s + w.errors, 0), windows: ws,
  };
}

async function main() {
  process.stdout.write(`grpc-bench: starting infergate (dist/) and the grpc-js echo server...\n`);
  const gate = await startChild(
    ['dist/cli/main.js', 'serve', '--http-port', '0', '--grpc-port', '0', '--metrics-port=-1', '--model-repository', 'models'],
    [/HTTP\s+(http:\/\/\S+)\n/, /gRPC\s+grpc:\/\/(\S+)\n/],
    { INFERGATE_LOG_LEVEL: 'warn' },
  );
  const echo = await startChild(['bench/grpc-echo-server.mjs'], [/listening on (\d+)\n/]);
  const [httpUrl, grpcAddr] = gate.found;
  const opts = { 'grpc.max_receive_message_length': -1 };
  const targets = {
    infergate: new grpc.Client(grpcAddr, grpc.credentials.createInsecure(), opts),
    echo: new grpc.Client(`127.0.0.1:${echo.found[0]}`, grpc.credentials.createInsecure(), opts),
  };
  try {
    // Check the answers before measuring anything.
    const check = /** @type {any} */ (InferResponse.toObject(InferResponse.decode(await rawCall(targets.infergate, simpleRequest)), { longs: Number }));
    const out0 = new Int32Array(new Uint8Array(check.raw_output_contents[0]).buffer);
    if (out0.some((v, i) => v !== simpleA[i] + simpleB[i])) throw new Error('infergate answered simple wrongly; not benchmarking');
    InferResponse.decode(await rawCall(targets.echo, simpleRequest));
    const textCheck = /** @type {any} */ (InferResponse.toObject(InferResponse.decode(await rawCall(targets.infergate, textRequest)), { longs: Number }));
    if (textCheck.outputs[0].shape.join('x') !== '1x256') throw new Error('text_encoder over gRPC answered the wrong shape');
    const httpCheck = await fetch(`${httpUrl}/v2/models/text_encoder/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: textJson });
    if (httpCheck.status !== 200) throw new Error(`text_encoder over HTTP answered ${httpCheck.status}`);

    process.stdout.write(`grpc-bench: warming up...\n`);
    await closedLoop(targets.infergate, simpleRequest, 16, 1);
    await closedLoop(targets.echo, simpleRequest, 16, 1);

    /** @type {Record<string, any>} */
    const results = { simple: {}, text_encoder: {} };
    for (const c of CONCURRENCY) {
      /** @type {Record<string, Window[]>} */
      const w = { infergate: [], echo: [] };
      for (const name of /** @type {const} */ (['infergate', 'echo', 'echo', 'infergate'])) {
        process.stdout.write(`grpc-bench: simple @${c} -> ${name} (${SECONDS}s)\n`);
        w[name].push(await closedLoop(targets[name], simpleRequest, c, SECONDS));
      }
      results.simple[c] = { infergate: mean(w.infergate), echo: mean(w.echo) };
    }
    /** @type {Record<string, Window[]>} */
    const t = { grpc: [], http: [], stream: [] };
    await closedLoop(targets.infergate, textRequest, 64, 1);
    /** Rows and executions of text_encoder so far (mean batch size per window). */
    const textStats = async () => {
      const s = (await (await fetch(`${httpUrl}/v2/models/text_encoder/stats`)).json()).model_stats[0];
      return { rows: Number(s.inference_count), execs: Number(s.execution_count) };
    };
    for (const name of /** @type {const} */ (['grpc', 'http', 'stream', 'stream', 'http', 'grpc'])) {
      process.stdout.write(`grpc-bench: text_encoder seq ${TEXT_SEQ} @64 -> ${name} (${SECONDS}s)\n`);
      const before = await textStats();
      const win =
        name === 'grpc' ? await closedLoop(targets.infergate, textRequest, 64, SECONDS)
        : name === 'stream' ? await streamLoop(targets.infergate, textMsg, 64, SECONDS)
        : await httpLoop(`${httpUrl}/v2/models/text_encoder/infer`, 64, SECONDS);
      const after = await textStats();
      win.meanBatch = (after.rows - before.rows) / Math.max(1, after.execs - before.execs);
      t[name].push(win);
    }
    results.text_encoder[64] = { grpc: mean(t.grpc), stream: mean(t.stream), http: mean(t.http) };

    const f = (/** @type {number} */ x, d = 0) => x.toFixed(d);
    const rows = ['| workload | target | concurrency | req/s | p50 ms | p99 ms | errors | load-generator CPU (cores) | mean batch |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
    for (const c of CONCURRENCY) {
      for (const name of ['infergate', 'echo']) {
        const r = results.simple[c][name];
        rows.push(`| simple [1,16] | ${name === 'echo' ? 'grpc-js echo (ceiling)' : 'infergate gRPC'} | ${c} | ${f(r.rps)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${r.errors} | ${f(r.clientCpu, 2)} | |`);
      }
    }
    const label = { grpc: 'gRPC ModelInfer (raw)', stream: 'gRPC ModelStreamInfer (raw, 1 stream)', http: 'HTTP JSON' };
    for (const name of /** @type {const} */ (['grpc', 'stream', 'http'])) {
      const r = results.text_encoder[64][name];
      rows.push(`| text_encoder [1,${TEXT_SEQ}] | infergate ${label[name]} | 64 | ${f(r.rps)} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${r.errors} | ${f(r.clientCpu, 2)} | ${f(r.meanBatch ?? 0, 1)} |`);
    }
    const ratios = {
      simple_infergate_over_echo_at_64: results.simple[64].infergate.rps / results.simple[64].echo.rps,
      text_encoder_grpc_over_http_at_64: results.text_encoder[64].grpc.rps / results.text_encoder[64].http.rps,
      text_encoder_grpc_stream_over_http_at_64: results.text_encoder[64].stream.rps / results.text_encoder[64].http.rps,
    };
    rows.push('', `simple @64: infergate / echo = ${f(ratios.simple_infergate_over_echo_at_64, 2)} (target >= 0.50)`);
    rows.push(`text_encoder @64: gRPC ModelInfer / HTTP = ${f(ratios.text_encoder_grpc_over_http_at_64, 2)} (target >= 1.00)`);
    rows.push(`text_encoder @64: gRPC ModelStreamInfer / HTTP = ${f(ratios.text_encoder_grpc_stream_over_http_at_64, 2)}`);
    process.stdout.write(`\n${rows.join('\n')}\n`);
    const dir = join(ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `grpc-bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify({ seconds: SECONDS, concurrency: CONCURRENCY, text_seq: TEXT_SEQ, results, ratios, node: process.version }, null, 2));
    process.stdout.write(`\ngrpc-bench: results in ${file}\n`);
  } finally {
    Object.values(targets).forEach((c) => c.close());
    gate.child.kill('SIGTERM');
    echo.child.kill('SIGTERM');
  }
}

main().catch((err) => {
  process.stderr.write(`grpc-bench: ${err.stack ?? err}\n`);
  process.exit(1);
});
