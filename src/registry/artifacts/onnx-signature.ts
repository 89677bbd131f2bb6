import { Worker } from 'node:worker_threads';
import { oipFromOrt } from '../../protocol/datatypes.js';
import type { Signature } from '../types.js';

interface WorkerReply {
  ok: boolean;
  error?: string;
  inputs?: { name: string; type: string; shape: number[] }[];
  outputs?: { name: string; type: string; shape: number[] }[];
}

/** Why an ONNX file could not be opened; its message goes into the version's status_message. */
export class InvalidOnnxError extends Error {}

const toTensors = (list: WorkerReply['inputs'] = []) =>
  list.map((t) => ({ name: t.name, datatype: oipFromOrt(t.type) ?? t.type, shape: t.shape }));

/**
 * Reads an ONNX file's signature (input/output names, OIP datatypes, shapes) with onnxruntime
 * in a short-lived worker thread. Rejects with InvalidOnnxError when onnxruntime cannot load it.
 */
export function readOnnxSignature(path: string, timeoutMs = 60_000): Promise<Signature> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./onnx-signature-worker.js', import.meta.url), { workerData: { path } });
    let settled = false;
    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      void worker.terminate();
    };
    const timer = setTimeout(() => done(() => reject(new InvalidOnnxError(`onnxruntime did not finish reading the model within ${timeoutMs / 1000} s`))), timeoutMs);
    worker.once('message', (reply: WorkerReply) =>
      done(() =>
        reply.ok
          ? resolve({ inputs: toTensors(reply.inputs), outputs: toTensors(reply.outputs) })
          : reject(new InvalidOnnxError(`not a valid ONNX model: ${reply.error ?? 'onnxruntime could not load it'}`)),
      ),
    );
    worker.once('error', (err) => done(() => reject(err)));
    worker.once('exit', (code) => done(() => reject(new Error(`the ONNX signature reader exited with code ${code} before answering`))));
  });
}
