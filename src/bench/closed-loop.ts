import { performance } from 'node:perf_hooks';
import { type LoadGenerator, type PayloadSet, WindowRecorder } from './recorder.js';
import type { Transport } from './transport.js';

/**
 * Closed loop (perf_analyzer's --concurrency-range): `concurrency` workers each send the next
 * request as soon as their previous one answers, so exactly that many are in flight.
 */
export class ClosedLoop implements LoadGenerator {
  readonly recorder = new WindowRecorder();
  private running = false;
  private next = 0;
  private workers: Promise<void>[] = [];

  constructor(
    private readonly transport: Transport,
    private readonly payloads: PayloadSet,
    private readonly concurrency: number,
  ) {}

  start(): void {
    this.running = true;
    for (let w = 0; w < this.concurrency; w++) this.workers.push(this.worker());
  }

  private async worker(): Promise<void> {
    const { count, rows } = this.payloads;
    while (this.running) {
      const i = this.next++ % count;
      const t0 = performance.now();
      try {
        await this.transport.infer(i);
        this.recorder.ok(performance.now() - t0, rows[i]);
      } catch (err) {
        this.recorder.error(err);
        // A server that fails instantly would otherwise turn this loop into a busy spin.
        await new Promise((r) => setImmediate(r));
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
    this.workers = [];
  }
}
