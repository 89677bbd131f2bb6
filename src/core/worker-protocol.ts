import type { ProviderSpec } from '../config/model-config.js';

/** Messages between the main thread and pool workers (see worker.js). */

/** How a worker opens a model version's session; key identifies it across workers. */
export interface SessionSpec {
  key: string;
  /** Where the model was read from (named in errors). */
  path: string;
  /**
   * The model's bytes, read once at load and shared with every worker: a worker that opens the
   * session later (its first batch, or a replacement after a crash) gets the same model even
   * if the file has since been rewritten.
   */
  model?: SharedArrayBuffer;
  providers: ProviderSpec[];
  intraOpThreads: number;
}

/** A tensor as it crosses to or from a worker: onnxruntime type names, flat data. */
export interface WireTensor {
  name: string;
  type: string;
  dims: number[];
  data: ArrayBufferView | string[];
}

export type WorkerTask =
  | { op: 'load'; spec: SessionSpec }
  | { op: 'run'; spec: SessionSpec; inputs: WireTensor[]; outputs: string[] };

export interface ValueInfo {
  name: string;
  /** onnxruntime type name (float32, int64, string, ...). */
  type: string;
  /** -1 for dynamic dimensions. */
  shape: number[];
}

/** What a worker reports after opening a session. */
export interface LoadedSession {
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** The provider the session actually runs on. */
  provider: string;
  /** Why earlier providers in the list could not be used. */
  fallbackReason?: string;
}

export interface RunResult {
  outputs: WireTensor[];
  computeInputNs: number;
  computeInferNs: number;
  computeOutputNs: number;
}
