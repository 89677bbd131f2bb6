// Raw onnxruntime-node compute ceiling, in-process, no HTTP: rows/s for a model at several batch
// sizes and threading layouts. Usable as a script (prints one JSON line) or imported.
//
//   node bench/ceiling.mjs --model text_encoder [--batches 1,16,32,64] [--layouts 1x1,1x2,2x1] [--ms 800]
//
// Layouts are WORKERSxINTRA_OP_THREADS: 1x1 = one session, 1 intra-op thread; 1x2 = one session,
// 2 intra-op threads; 2x1 = two worker threads with a session each, 1 intra-op thread each (what
// infergate does by default on 2 cores). Every session runs in a worker thread so that the layouts
// differ only in threading.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { MODELS_DIR, DT, parseFlags, workloads } from './lib.mjs';

const SELF = fileURLToPath(import.meta.url);

/** Feeds for `batch` copies of the workload's single-row request. */
function feedsFor(ort, workload, batch) {
  const feeds = {};
  for (const inp of workload.request.inputs) {
    const { Array: A, ort: type } = DT[inp.datatype];
    const row = inp.data.flat(Infinity);
    const data = new A(row.length * batch);
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < row.length; i++) data[b * row.length + i] = A === BigInt64Array ? BigInt(row[i]) : row[i];
    }
    feeds[inp.name] = new ort.Tensor(type, data, [batch, ...inp.shape.slice(1)]);
  }
  return feeds;
}

async function workerMain() {
  const ort = await import('onnxruntime-node');
  const { model, intra } = workerData;
  const workload = workloads()[model];
  const session = await ort.InferenceSession.create(join(MODELS_DIR, model, '1', 'model.onnx'), {
    intraOpNumThreads: intra,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  parentPort.postMessage({ ready: true });
  parentPort.on('message', async (msg) => {
    if (msg.op === 'exit') {
      await session.release();
      process.exit(0);
    }
    // msg: { op: 'run', batch, ms, warm }
    const feeds = feedsFor(ort, workload, msg.batch);
    for (let i = 0; i < msg.warm; i++) await session.run(feeds);
    // Start together: the parent sends 'run' to all workers at once; each measures its own window.
    const end = performance.now() + msg.ms;
    const t0 = performance.now();
    let runs = 0;
    while (performance.now() < end) {
      await session.run(feeds);
      runs++;
    }
    const elapsed = performance.now() - t0;
    parentPort.postMessage({ rows: runs * msg.batch, runs, elapsedMs: elapsed });
  });
}

/** Starts `workers` worker threads with one session each; resolves when all are ready. */
async function startWorkers(model, workers, intra) {
  const ws = [];
  for (let i = 0; i < workers; i++) {
    const w = new Worker(SELF, { workerData: { model, intra } });
    ws.push(w);
  }
  await Promise.all(ws.map((w) => new Promise((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
  })));
  return ws;
}

/**
 * Measures rows/s for each layout and batch size. Returns { rows: [...], best } where each row is
 * { layout, batch, rowsPerSec, cpuUsPerRow }.
 */
export async function measureCeiling({ model, batches = [1, 16, 32, 64], layouts = ['1x1', '1x2', '2x1'], ms = 800, onRow } = {}) {
  const rows = [];
  for (const layout of layouts) {
    const [workers, intra] = layout.split('x').map(Number);
    const ws = await startWorkers(model, workers, intra);
    try {
      for (const batch of batches) {
        const warm = batch >= 16 ? 3 : 20;
        const cpu0 = process.cpuUsage();
        const results = await Promise.all(ws.map((w) => new Promise((res, rej) => {
          w.once('message', res);
          w.once('error', rej);
          w.postMessage({ op: 'run', batch, ms, warm });
        })));
        const cpu = process.cpuUsage(cpu0);
        const totalRows = results.reduce((n, r) => n + r.rows, 0);
        const elapsed = Math.max(...results.map((r) => r.elapsedMs));
        const row = {
          layout, batch,
          rowsPerSec: totalRows / (elapsed / 1000),
          // includes warm-up runs; process.cpuUsage covers all threads of this process
          cpuUsPerRow: (cpu.user + cpu.system) / (totalRows + warm * batch * workers),
        };
        rows.push(row);
        onRow?.(row);
      }
    } finally {
      await Promise.all(ws.map((w) => new Promise((res) => {
        w.once('exit', res);
        w.postMessage({ op: 'exit' });
      })));
    }
  }
  const best = rows.reduce((a, b) => (b.rowsPerSec > a.rowsPerSec ? b : a));
  return { model, rows, best };
}

if (isMainThread && process.argv[1] === SELF) {
  const f = parseFlags(process.argv.slice(2));
  if (!f.model || f.help) {
    process.stderr.write('usage: node bench/ceiling.mjs --model NAME [--batches 1,16,32,64] [--layouts 1x1,1x2,2x1] [--ms 800] [--verbose]\n');
    process.exit(f.help ? 0 : 2);
  }
  const res = await measureCeiling({
    model: f.model,
    batches: f.batches ? String(f.batches).split(',').map(Number) : undefined,
    layouts: f.layouts ? String(f.layouts).split(',') : undefined,
    ms: f.ms ? Number(f.ms) : undefined,
    onRow: f.verbose ? (r) => process.stderr.write(`  ${f.model} ${r.layout} batch ${r.batch}: ${r.rowsPerSec.toFixed(0)} rows/s\n`) : undefined,
  });
  process.stdout.write(JSON.stringify(res) + '\n');
} else if (!isMainThread && workerData?.model) {
  await workerMain();
}
