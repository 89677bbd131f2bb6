import { ClosedLoop } from './closed-loop.js';
import { modelBatches, randomRequest, readInputData, rowsOf, tileBatch } from './inputs.js';
import { GrpcTransport } from './load-grpc.js';
import { HttpTransport } from './load-http.js';
import { type WindowListener, measureStep } from './measure.js';
import { OpenLoop } from './open-loop.js';
import type { LoadGenerator } from './recorder.js';
import type { Transport } from './transport.js';
import type { BenchOptions, BenchReport, StepResult } from './types.js';
import type { InferRequest, ModelMetadata } from '../protocol/types.js';

export interface BenchHooks {
  /** Notes for the user (stats missing, sweep stopped, ...). */
  onNote?: (text: string) => void;
  onWindow?: WindowListener;
  onStep?: (step: StepResult) => void;
}

function makeTransport(o: BenchOptions): Transport {
  if (o.protocol === 'grpc') return new GrpcTransport(o.url, o.model, o.version);
  // One connection per request in flight, opened as the load needs them.
  return new HttpTransport(o.url, o.model, o.version, o.httpFormat);
}

/** The best step within the SLO: highest throughput whose p99 met the threshold. */
export function bestWithinSlo(steps: StepResult[], thresholdMs: number): BenchReport['bestWithinSlo'] {
  let best: StepResult | undefined;
  for (const s of steps) {
    if (s.p99Ms <= thresholdMs && s.errors === 0 && s.requests > 0 && (!best || s.inferPerSec > best.inferPerSec)) best = s;
  }
  return best && { level: best.level, inferPerSec: best.inferPerSec, p99Ms: best.p99Ms };
}

/** Runs the whole sweep against a server and returns the report (writes nothing). */
export async function runBench(o: BenchOptions, hooks: BenchHooks = {}): Promise<BenchReport> {
  const note = hooks.onNote ?? (() => {});
  const transport = makeTransport(o);
  try {
    let meta: ModelMetadata | undefined;
    let requests: InferRequest[];
    if (o.inputDataFile) {
      requests = readInputData(o.inputDataFile);
      // Metadata only tells whether the first dim is the batch dim; a server without it still works.
      meta = await transport.metadata().catch((err: Error) => {
        note(`no model metadata (${err.message}); counting one inference per request`);
        return undefined;
      });
      requests = requests.map((r) => tileBatch(r, o.batchSize));
    } else {
      meta = await transport.metadata();
      requests = [randomRequest(meta, o.shapes, o.batchSize)];
    }
    const batched = meta ? modelBatches(meta) : false;
    transport.prepare(requests);
    const payloads = { count: requests.length, rows: requests.map((r) => rowsOf(r, batched)) };

    // One request first, so a wrong shape or model fails now with the server's own words.
    await transport.infer(0).catch((err: Error) => {
      throw new Error(`the first request failed, nothing measured: ${err.message}`);
    });

    const firstStats = await transport.statistics();
    const serverStats = typeof firstStats !== 'string';
    let serverStatsNote: string | undefined;
    if (!serverStats) {
      serverStatsNote = `server-side breakdown skipped: ${firstStats}`;
      note(serverStatsNote);
    }

    const report: BenchReport = {
      model: o.model,
      version: o.version,
      url: o.url,
      protocol: o.protocol,
      ...(o.protocol === 'http' ? { httpFormat: o.httpFormat } : {}),
      mode: o.mode,
      batchSize: o.batchSize,
      measurementIntervalMs: o.measurementIntervalMs,
      stabilityPercentage: o.stabilityPercentage,
      ...(o.latencyThresholdMs !== undefined ? { latencyThresholdMs: o.latencyThresholdMs } : {}),
      startedAt: new Date().toISOString(),
      steps: [],
      ...(serverStatsNote ? { serverStatsNote } : {}),
    };

    for (const level of o.levels) {
      const gen: LoadGenerator = o.mode === 'concurrency' ? new ClosedLoop(transport, payloads, level) : new OpenLoop(transport, payloads, level);
      const step = await measureStep(gen, transport, {
        mode: o.mode, level, intervalMs: o.measurementIntervalMs, stabilityPercentage: o.stabilityPercentage, maxTrials: o.maxTrials, serverStats,
      }, hooks.onWindow);
      report.steps.push(step);
      hooks.onStep?.(step);
      if (step.requests === 0 && step.errors > 0) {
        note(`every request failed at ${level}: ${step.firstError}; stopping the sweep`);
        report.stoppedAt = level;
        break;
      }
      if (o.latencyThresholdMs !== undefined && step.p99Ms > o.latencyThresholdMs) {
        note(`p99 ${step.p99Ms.toFixed(2)} ms at ${level} is over the ${o.latencyThresholdMs} ms threshold; stopping the sweep`);
        report.stoppedAt = level;
        break;
      }
    }
    if (o.latencyThresholdMs !== undefined) {
      const best = bestWithinSlo(report.steps, o.latencyThresholdMs);
      if (best) report.bestWithinSlo = best;
    }
    return report;
  } finally {
    transport.close();
  }
}
