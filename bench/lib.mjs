// Shared helpers for the benchmark harness (bench/run.mjs) and its servers.
// Plain JavaScript, no build step. Everything listens and connects on 127.0.0.1 only.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const MODELS_DIR = join(ROOT, 'models');
export const HOST = '127.0.0.1';

/** Sequence length used for text_encoder requests. */
export const TEXT_SEQ = 32;

/** OIP datatype -> typed array class and onnxruntime type name. */
export const DT = {
  INT32: { Array: Int32Array, ort: 'int32' },
  INT64: { Array: BigInt64Array, ort: 'int64' },
  FP32: { Array: Float32Array, ort: 'float32' },
  FP64: { Array: Float64Array, ort: 'float64' },
  UINT8: { Array: Uint8Array, ort: 'uint8' },
  BOOL: { Array: Uint8Array, ort: 'bool' },
};
export const OIP_OF_ORT = { int32: 'INT32', int64: 'INT64', float32: 'FP32', float64: 'FP64', uint8: 'UINT8', bool: 'BOOL' };

/**
 * The benchmark workloads: one batch-1 OIP v2 JSON request per model, the URL path to post it to,
 * the outputs it must return, and (when a golden file gives them) the expected values.
 */
export function workloads() {
  const golden = (m) => JSON.parse(readFileSync(join(MODELS_DIR, m, '1', 'golden.json'), 'utf8'));
  const simple = golden('simple');
  const tab = golden('tabular_mlp');
  const text = golden('text_encoder');
  const ids = Array.from({ length: TEXT_SEQ }, (_, i) => (i * 7919 + 13) % 8192);
  const textReq = {
    inputs: [
      { name: 'input_ids', shape: [1, TEXT_SEQ], datatype: 'INT64', data: ids },
      { name: 'attention_mask', shape: [1, TEXT_SEQ], datatype: 'INT64', data: ids.map(() => 1) },
    ],
  };
  return {
    simple: {
      model: 'simple', version: '1', path: '/v2/models/simple/infer',
      request: simple.cases[0].request, expected: simple.cases[0].expected, tolerance: simple.tolerance,
      outputs: [{ name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16] }],
    },
    tabular_mlp: {
      model: 'tabular_mlp', version: '1', path: '/v2/models/tabular_mlp/versions/1/infer',
      request: tab.cases[0].request, expected: tab.cases[0].expected, tolerance: tab.tolerance,
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [1, 2] }],
    },
    text_encoder: {
      model: 'text_encoder', version: '1', path: '/v2/models/text_encoder/infer',
      request: textReq, expected: undefined, tolerance: text.tolerance,
      outputs: [{ name: 'embedding', datatype: 'FP32', shape: [1, 256] }],
    },
  };
}

/** Compares outputs of an OIP v2 JSON response with expected outputs (names, shapes, values within tolerance). */
export function compareOutputs(got, expected, tol = { atol: 0, rtol: 0 }) {
  for (const e of expected) {
    const g = (got ?? []).find((o) => o.name === e.name);
    if (!g) return `output '${e.name}' missing`;
    if (JSON.stringify(g.shape) !== JSON.stringify(e.shape)) return `output '${e.name}' shape ${JSON.stringify(g.shape)}, expected ${JSON.stringify(e.shape)}`;
    if (g.datatype !== e.datatype) return `output '${e.name}' datatype ${g.datatype}, expected ${e.datatype}`;
    if (e.data) {
      const gd = (g.data ?? []).flat(Infinity);
      if (gd.length !== e.data.length) return `output '${e.name}' has ${gd.length} values, expected ${e.data.length}`;
      for (let i = 0; i < gd.length; i++) {
        if (Math.abs(gd[i] - e.data[i]) > tol.atol + tol.rtol * Math.abs(e.data[i])) {
          return `output '${e.name}'[${i}] = ${gd[i]}, expected ${e.data[i]}`;
        }
      }
    }
  }
  return undefined;
}

/** Parses --key value / --flag arguments into an object. */
export function parseFlags(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[a.slice(2)] = argv[++i];
    else out[a.slice(2)] = true;
  }
  return out;
}

let clkTck;
/** Clock ticks per second for /proc/PID/stat times. */
function ticksPerSecond() {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/PID/stat. */
export function processCpuSeconds(pid) {
  return cpuSecondsOf(`/proc/${pid}/stat`);
}

/** CPU seconds of a process's main thread alone (its event loop: HTTP, batching, answers). */
export function mainThreadCpuSeconds(pid) {
  return cpuSecondsOf(`/proc/${pid}/task/${pid}/stat`);
}

function cpuSecondsOf(statPath) {
  const s = readFileSync(statPath, 'utf8');
  // Fields after the ')' that closes comm: state is field 3, utime 14, stime 15.
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / ticksPerSecond();
}

const children = new Set();
let cleanupInstalled = false;

function killAll(signal) {
  for (const c of children) {
    try {
      c.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** Kills every child server when this process exits, fails or is interrupted. */
function installCleanup() {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', () => killAll('SIGKILL'));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig} received, stopping servers...\n`);
      killAll('SIGTERM');
      setTimeout(() => process.exit(130), 300).unref();
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err.stack ?? err}\n`);
    killAll('SIGTERM');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: ${err?.stack ?? err}\n`);
    killAll('SIGTERM');
    process.exit(1);
  });
}

/**
 * Starts a server child process and resolves with { child, pid, url } once it prints a line
 * matching urlPattern (group 1 = the URL). The child listens on port 0; we read the port back.
 */
export function startServer(name, args, urlPattern, { timeoutMs = 120_000, env, cwd = ROOT } = {}) {
  installCleanup();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    children.add(child);
    let out = '';
    let err = '';
    let done = false;
    const timer = setTimeout(() => fail(new Error(`${name} did not report its URL within ${timeoutMs / 1000}s`)), timeoutMs);
    const fail = (e) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${e.message}\n--- ${name} stdout ---\n${out.slice(-2000)}\n--- ${name} stderr ---\n${err.slice(-2000)}`));
    };
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      if (done) return;
      out += d;
      const m = out.match(urlPattern);
      if (m) {
        done = true;
        clearTimeout(timer);
        resolve({ name, child, pid: child.pid, url: m[1].replace('0.0.0.0', HOST) });
      }
    });
    child.stderr.on('data', (d) => {
      err += d;
      if (err.length > 20000) err = err.slice(-10000);
      // Servers must stay quiet while measured; still show real errors.
      if (done) process.stderr.write(`[${name}] ${d}`);
    });
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (!done) fail(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready`));
    });
    child.on('error', (e) => fail(e));
  });
}

/** Stops a server child: SIGTERM, then SIGKILL after a grace period. */
export async function stopServer(srv, graceMs = 5000) {
  const { child } = srv;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

/** Median of numbers (undefined entries ignored). */
export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Percentile (0..100) of a sorted Float64Array, nearest rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
