import type { Logger } from 'pino';
import { handleInfer, type InferDeps } from '../core/infer-call.js';
import { asInferError } from '../protocol/errors.js';
import { encodeInferResponse } from '../protocol/json-codec.js';
import type { Broker, BrokerMessage } from './broker.js';
import { decodeMessage } from './message-codec.js';
import type { StreamSpec } from './stream-config.js';
import type { StreamMetrics } from './stream-metrics.js';

const NO_HEADERS = Object.freeze({});
/** How often the lag gauge is refreshed (ms). */
const LAG_EVERY_MS = 2000;
/** Wait before connecting again after the broker failed (ms). */
const RECONNECT_MS = 2000;

/**
 * Consumes one stream for one model: fetches up to max_in_flight messages, runs each through
 * the dataplane (source `stream`), writes its result and acknowledges it; a message that
 * cannot be decoded, or fails max_deliver deliveries, goes to the dead-letter stream with its
 * error. At-least-once: nothing is acknowledged before its result is written.
 */
export class StreamConsumer {
  private stopping = false;
  private running: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private lagAt = 0;
  private readonly labels: { model: string; stream: string };

  constructor(
    readonly model: string,
    readonly spec: StreamSpec,
    private readonly broker: Broker,
    private readonly deps: InferDeps,
    private readonly metrics: StreamMetrics,
  ) {
    this.labels = { model, stream: broker.label };
  }

  private get log(): Logger {
    return this.deps.log;
  }

  start(): void {
    this.running = this.loop();
  }

  /** Stops fetching, lets the messages in flight finish (result written, acknowledged), disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.broker.connect();
        this.log.info(`stream consumer for model '${this.model}' on ${this.broker.label} started`);
        await this.consume();
      } catch (err) {
        if (!this.stopping) this.log.warn(`stream consumer for model '${this.model}' on ${this.broker.label}: ${(err as Error).message}; connecting again in ${RECONNECT_MS / 1000}s`);
      }
      await Promise.allSettled([...this.inFlight]);
      await this.broker.close().catch(() => {});
      if (!this.stopping) await new Promise((r) => setTimeout(r, RECONNECT_MS));
    }
  }

  private async consume(): Promise<void> {
    const max = this.spec.max_in_flight;
    while (!this.stopping) {
      if (this.inFlight.size >= max) {
        await Promise.race(this.inFlight);
        continue;
      }
      await this.broker.fetch(max - this.inFlight.size, (m) => {
        const p = this.handle(m).finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
      });
      if (Date.now() - this.lagAt > LAG_EVERY_MS) {
        this.lagAt = Date.now();
        this.broker.lag().then((n) => n !== undefined && this.metrics.lag.set(this.labels, n), () => {});
      }
    }
  }

  private async handle(m: BrokerMessage): Promise<void> {
    const s = this.spec;
    try {
      if (m.deliveries > s.max_deliver) {
        return await this.deadLetter(m, `delivered ${m.deliveries} times without completing (max_deliver ${s.max_deliver})`);
      }
      let req;
      try {
        const mv = this.deps.dataplane.router.resolve(this.model, s.version);
        req = decodeMessage(m.data, m.id, mv, s.columns, s.id_column);
      } catch (err) {
        const e = asInferError(err);
        if (e.kind !== 'invalid_argument') throw e;
        return await this.deadLetter(m, `undecodable: ${e.message}`);
      }
      let json: string;
      try {
        json = await handleInfer(this.deps, {
          source: 'stream', model: this.model, version: s.version, headers: NO_HEADERS, requestBytes: Buffer.byteLength(m.data),
          decode: () => req,
          encode: (res) => encodeInferResponse(res, () => false).json,
          responseBytes: (out) => Buffer.byteLength(out),
        });
      } catch (err) {
        this.metrics.failed.inc(this.labels);
        const e = asInferError(err);
        if (m.deliveries >= s.max_deliver) return await this.deadLetter(m, `${e.kind}: ${e.message}`);
        return await this.broker.retry(m);
      }
      await this.broker.complete(m, req.id!, json);
      this.metrics.processed.inc(this.labels);
    } catch (err) {
      // The broker failed us (connection lost): the message stays unacknowledged and comes back.
      this.log.warn(`stream ${this.broker.label}: message ${m.id} left for redelivery: ${(err as Error).message}`);
    }
  }

  private async deadLetter(m: BrokerMessage, error: string): Promise<void> {
    await this.broker.deadLetter(m, error);
    this.metrics.deadLettered.inc(this.labels);
    this.log.warn(`stream ${this.broker.label}: message ${m.id} dead-lettered: ${error}`);
  }
}
