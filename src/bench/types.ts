/** Shapes shared by the bench modules: options, measurements and the final report. */

export type Protocol = 'http' | 'grpc';
export type HttpFormat = 'json' | 'binary';
/** Closed loop: a fixed number of requests in flight. Open loop: requests on a fixed schedule. */
export type LoadMode = 'concurrency' | 'request-rate';

export interface BenchOptions {
  model: string;
  /** Empty: the server picks (latest ready version). */
  version: string;
  /** host:port, optionally with an http:// prefix for HTTP. */
  url: string;
  protocol: Protocol;
  httpFormat: HttpFormat;
  mode: LoadMode;
  /** Load levels to visit in order: concurrencies or requests/s. */
  levels: number[];
  measurementIntervalMs: number;
  stabilityPercentage: number;
  maxTrials: number;
  /** p99 SLO in ms; the sweep stops at the first level over it. */
  latencyThresholdMs?: number;
  inputDataFile?: string;
  /** Concrete sizes for dynamic (-1) dims of named inputs, without the batch dim. */
  shapes: Record<string, number[]>;
  batchSize: number;
  csvFile?: string;
  jsonFile?: string;
  htmlFile?: string;
}

/** Per-request averages from the server's statistics over a step, in ms. */
export interface ServerBreakdown {
  requests: number;
  queueMs: number;
  computeInputMs: number;
  computeInferMs: number;
  computeOutputMs: number;
  /** compute_input + compute_infer + compute_output. */
  computeMs: number;
  /** Server's own request time (success) minus queue and compute: its codec and routing. */
  serverOtherMs: number;
  /** Client mean latency minus queue and compute: network, both codecs, client overhead. */
  otherMs: number;
}

/** One load level's measured outcome (the stable windows merged). */
export interface StepResult {
  mode: LoadMode;
  /** Concurrency or requests/s asked for. */
  level: number;
  requests: number;
  errors: number;
  /** First error seen in the step, to tell the user what went wrong. */
  firstError?: string;
  inferPerSec: number;
  requestsPerSec: number;
  avgMs: number;
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  stable: boolean;
  windows: number;
  /** Open loop only: worst delay between a scheduled send and the actual send. */
  maxSendLagMs?: number;
  server?: ServerBreakdown;
}

export interface BenchReport {
  model: string;
  version: string;
  url: string;
  protocol: Protocol;
  httpFormat?: HttpFormat;
  mode: LoadMode;
  batchSize: number;
  measurementIntervalMs: number;
  stabilityPercentage: number;
  latencyThresholdMs?: number;
  startedAt: string;
  steps: StepResult[];
  /** Why the server breakdown is missing, when it is. */
  serverStatsNote?: string;
  /** The best step within the SLO, when --latency-threshold is given. */
  bestWithinSlo?: { level: number; inferPerSec: number; p99Ms: number };
  /** Set when the sweep stopped early because p99 went over the threshold. */
  stoppedAt?: number;
}
