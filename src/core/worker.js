// Runs inside a pool worker thread: holds onnxruntime sessions and runs batches.
// Plain JavaScript (type-checked through JSDoc) so the same file serves under
// vitest and from dist/ without a TypeScript loader in worker threads.
import { BroadcastChannel } from 'node:worker_threads';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { TRANSFER_MIN_BYTES } from './transfer.js';

/** @typedef {import('./worker-protocol.js').SessionSpec} SessionSpec */
/** @typedef {import('./worker-protocol.js').WorkerTask} WorkerTask */
/** @typedef {import('./worker-protocol.js').WireTensor} WireTensor */
/** @typedef {import('./worker-protocol.js').LoadedSession} LoadedSession */
/** @typedef {{ session: InferenceSession, info: LoadedSession }} OpenSession */

/** @type {Map<string, Promise<OpenSession>>} */
const sessions = new Map();

// The main thread announces unloads to every worker at once; piscina cannot address one.
const channel = new BroadcastChannel('infergate-sessions');
channel.onmessage = (/** @type {any} */ ev) => {
  const msg = ev.data;
  if (msg && msg.op === 'release') release(msg.key);
};
/** @type {any} */ (channel).unref?.();

/** @param {string} key */
function release(key) {
  const s = sessions.get(key);
  if (!s) return;
  sessions.delete(key);
  s.then((o) => o.session.release()).catch(() => {});
}

/**
 * The provider as onnxruntime-node 1.29.0 takes it. Its binding (session_options_helper.cc)
 * reads only `deviceId` for cuda and throws on any webgpu option it does not know, so only
 * device_id is passed; model-config.ts refuses the options that could not reach onnxruntime.
 * @param {SessionSpec['providers'][number]} p
 */
function ortProvider(p) {
  if (p.name === 'cuda') {
    const deviceId = p.options.device_id;
    return deviceId === undefined ? { name: 'cuda' } : { name: 'cuda', deviceId: Number(deviceId) };
  }
  return { name: p.name };
}

/**
 * Creates a session on the first provider that works, falling back down the list
 * unless a provider is required. Returns which provider it got and why others failed.
 * @param {SessionSpec} spec
 * @returns {Promise<OpenSession>}
 */
async function open(spec) {
  /** @type {string[]} */
  const reasons = [];
  for (let i = 0; i < spec.providers.length; i++) {
    const p = spec.providers[i];
    /** @type {InferenceSession.SessionOptions} */
    const options = {
      // One provider per attempt: a partial placement would misreport where the model runs.
      executionProviders: [/** @type {any} */ (ortProvider(p))],
      intraOpNumThreads: spec.intraOpThreads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      // Fatal only: a failed run comes back as an error we answer and log ourselves; onnxruntime's
      // own stderr line per refused request would let any client fill the logs.
      logSeverityLevel: 4,
    };
    // A GPU session must not silently run nodes on the CPU: placement stays honest.
    if (p.name !== 'cpu') options.extra = { session: { disable_cpu_ep_fallback: '1' } };
    try {
      const session = spec.model
        ? await InferenceSession.create(new Uint8Array(spec.model).slice(), options)
        : await InferenceSession.create(spec.path, options);
      return { session, info: describe(session, p.name, reasons) };
    } catch (err) {
      const reason = `${p.name}: ${spec.model ? `Load model from ${spec.path} failed: ` : ''}${firstLine(err)}`;
      if (p.require || i === spec.providers.length - 1) {
        throw new Error(reasons.concat(reason).join('; '));
      }
      reasons.push(reason);
    }
  }
  throw new Error('no execution provider was given');
}

/** @param {unknown} err */
function firstLine(err) {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n')[0].trim();
}

/**
 * @param {InferenceSession} session
 * @param {string} provider
 * @param {string[]} reasons
 * @returns {LoadedSession}
 */
function describe(session, provider, reasons) {
  /** @param {readonly InferenceSession.ValueMetadata[]} list */
  const meta = (list) =>
    list.map((m) => ({
      name: m.name,
      type: m.isTensor ? m.type : 'non-tensor',
      shape: m.isTensor ? m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) : [],
    }));
  return {
    inputs: meta(session.inputMetadata),
    outputs: meta(session.outputMetadata),
    provider,
    fallbackReason: reasons.length ? reasons.join('; ') : undefined,
  };
}

/** @param {SessionSpec} spec */
function session(spec) {
  let s = sessions.get(spec.key);
  if (!s) {
    s = open(spec);
    sessions.set(spec.key, s);
    s.catch(() => sessions.delete(spec.key));
  }
  return s;
}

/**
 * @param {bigint} t0
 */
const since = (t0) => Number(process.hrtime.bigint() - t0);

/**
 * The pool's task entry point.
 * @param {WorkerTask} task
 */
export default async function run(task) {
  const open = await session(task.spec);
  if (task.op === 'load') return open.info;
  const t0 = process.hrtime.bigint();
  /** @type {Record<string, Tensor>} */
  const feeds = {};
  for (const t of task.inputs) feeds[t.name] = new Tensor(/** @type {any} */ (t.type), /** @type {any} */ (t.data), t.dims);
  const computeInputNs = since(t0);
  const t1 = process.hrtime.bigint();
  const result = await open.session.run(feeds, task.outputs);
  const computeInferNs = since(t1);
  const t2 = process.hrtime.bigint();
  /** @type {WireTensor[]} */
  const outputs = [];
  /** @type {ArrayBuffer[]} */
  const buffers = [];
  for (const name of task.outputs) {
    const t = result[name];
    let data = /** @type {any} */ (t.data);
    if (!Array.isArray(data)) {
      // Large outputs go back by transfer, owning their whole buffer; small ones are copied.
      if (data.byteLength >= TRANSFER_MIN_BYTES) {
        if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) data = data.slice();
        buffers.push(data.buffer);
      }
    }
    outputs.push({ name, type: t.type, dims: Array.from(t.dims), data });
  }
  const value = { outputs, computeInputNs, computeInferNs, computeOutputNs: since(t2) };
  if (buffers.length === 0) return value;
  return move(/** @type {any} */ ({ [transferableSymbol]: buffers, [valueSymbol]: value }));
}
