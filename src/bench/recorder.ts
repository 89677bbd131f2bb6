import { performance } from 'node:perf_hooks';
import type { WindowData } from './stats.js';

/** Collects completions into the current window; swap() closes it and opens the next. */
export class WindowRecorder {
  private current: WindowData;

  constructor() {
    this.current = WindowRecorder.open(performance.now());
  }

  private static open(startMs: number): WindowData {
    return { startMs, endMs: startMs, latencies: [], rows: 0, errors: 0, maxSendLagMs: 0 };
  }

  ok(latencyMs: number, rows: number): void {
    this.current.latencies.push(latencyMs);
    this.current.rows += rows;
  }

  error(err: unknown): void {
    this.current.errors++;
    this.current.firstError ??= err instanceof Error ? err.message : String(err);
  }

  sendLag(ms: number): void {
    if (ms > this.current.maxSendLagMs) this.current.maxSendLagMs = ms;
  }

  /** Ends the current window now and starts a new one (load keeps running across). */
  swap(): WindowData {
    const now = performance.now();
    const done = this.current;
    done.endMs = now;
    this.current = WindowRecorder.open(now);
    return done;
  }
}

/** A running load level: started once, windows taken with swap(), stopped and drained at the end. */
export interface LoadGenerator {
  readonly recorder: WindowRecorder;
  start(): void;
  /** Stops issuing requests and waits (up to a limit) for those in flight. */
  stop(): Promise<void>;
}

/** Payload index and rows per payload, cycled round-robin. */
export interface PayloadSet {
  count: number;
  rows: number[];
}
