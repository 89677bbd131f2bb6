// Runs in a short-lived worker thread: opens one ONNX file with onnxruntime and reports its
// inputs and outputs, so parsing a model never blocks the gateway's event loop.
// Plain JavaScript (type-checked through JSDoc) so it runs under vitest and from dist/ alike.
import { parentPort, workerData } from 'node:worker_threads';
import { InferenceSession } from 'onnxruntime-node';

/** @param {readonly InferenceSession.ValueMetadata[]} list */
const describe = (list) =>
  list.map((m) => ({
    name: m.name,
    type: m.isTensor ? m.type : 'non-tensor',
    shape: m.isTensor ? m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) : [],
  }));

try {
  const session = await InferenceSession.create(/** @type {string} */ (workerData.path), {
    graphOptimizationLevel: 'disabled',
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    logSeverityLevel: 4,
  });
  const out = { ok: true, inputs: describe(session.inputMetadata), outputs: describe(session.outputMetadata) };
  await session.release();
  parentPort?.postMessage(out);
} catch (err) {
  parentPort?.postMessage({ ok: false, error: (err instanceof Error ? err.message : String(err)).split('\n')[0].trim() });
}
