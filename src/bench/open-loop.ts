import { performance } from 'node:perf_hooks';
import { type LoadGenerator, type PayloadSet, WindowRecorder } from './recorder.js';
import type { Transport } from './transport.js';

/** When request `index` (0-based) is due, for a schedule starting at startMs at `rate` requests/s. */
export function scheduledAt(startMs: number, index: number, rate: number): number {
  return startMs + (index * 1000) / rate;
}

/** How many requests are due by nowMs (the one at startMs included). */
export function dueCount(startMs: number, nowMs: number, rate: number): number {
  if (nowMs < startMs) return 0;
  return Math.floor(((nowMs - startMs) * rate) / 1000) + 1;
}

/** How long to sleep before the next due request; timers fire no sooner than ~1 ms. */
export function sleepUntilNext(startMs: number, sent: number, nowMs: number, rate: number): number {
  return Math.max(0, scheduledAt(startMs, sent, rate) - nowMs);
}

/**
 * Open loop (perf_analyzer's --request-rate-range): requests go out on a fixed schedule
 * whatever the server does, and each latency counts from its scheduled send time, not the
 * actual one. A closed loop (or an open loop measured from the actual send) stops sending
 * while the server stalls and so never records the wait the stalled requests would have
 * seen: coordinated omission. Here a stall shows in the percentiles as it would for users.
 */
export class OpenLoop implements LoadGenerator {
  readonly recorder = new WindowRecorder();
  private running = false;
  private startMs = 0;
  private sent = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private drained: (() => void) | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly payloads: PayloadSet,
    private readonly rate: number,
    /** How long stop() waits for requests in flight before giving up on them. */
    private readonly drainTimeoutMs = 10_000,
  ) {}

  start(): void {
    this.running = true;
    this.startMs = performance.now();
    this.tick();
  }

  private tick = (): void => {
    if (!this.running) return;
    const now = performance.now();
    const due = dueCount(this.startMs, now, this.rate);
    // Several may be due after a late timer: send them all now; their lag counts in latency.
    while (this.sent < due) this.fire(scheduledAt(this.startMs, this.sent++, this.rate), now);
    this.timer = setTimeout(this.tick, sleepUntilNext(this.startMs, this.sent, performance.now(), this.rate));
  };

  private fire(scheduled: number, now: number): void {
    const { count, rows } = this.payloads;
    const i = this.sent % count;
    this.recorder.sendLag(now - scheduled);
    this.inFlight++;
    this.transport.infer(i).then(
      () => this.done(() => this.recorder.ok(performance.now() - scheduled, rows[i])),
      (err: unknown) => this.done(() => this.recorder.error(err)),
    );
  }

  private done(record: () => void): void {
    record();
    if (--this.inFlight === 0) this.drained?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.drainTimeoutMs);
      this.drained = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}
