import type { ErrorKind } from '../protocol/errors.js';

/** Which model version an event is about (also the metrics labels). */
export interface VersionLabels {
  readonly model: string;
  readonly version: string;
}

/** A batch that ran on a worker: its rows, its requests and onnxruntime's timings (ns). */
export interface BatchTimings {
  rows: number;
  requests: number;
  inputNs: number;
  inferNs: number;
  outputNs: number;
}

/**
 * Sees a model version's traffic: metrics and statistics implement it, and later the drift
 * monitor. Called on the hot path, so implementations keep to counters. Warm-up is not traffic
 * and is never reported.
 */
export interface ModelObserver {
  /** A batch left the queue; `queueNs` holds each of its requests' wait. */
  batchFormed(v: VersionLabels, queueNs: readonly number[]): void;
  /** A batch finished on a worker. */
  batchDone(v: VersionLabels, t: BatchTimings): void;
  /** A request succeeded after `ns` end to end; `traceId` when tracing is on. */
  requestDone(v: VersionLabels, ns: number, traceId: string | undefined): void;
  /** A request failed after `ns` with an error of this kind. */
  requestFailed(v: VersionLabels, ns: number, kind: ErrorKind): void;
}
