import { hostname } from 'node:os';
import { AckPolicy, type Consumer, type JetStreamClient, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type NatsConnection, connect, headers } from '@nats-io/transport-node';
import type { Broker, BrokerMessage } from './broker.js';
import type { NatsStreamSpec } from './stream-config.js';

interface NatsMessage extends BrokerMessage {
  readonly msg: JsMsg;
}

/** Delay before a failed message is delivered again (ms). */
const NAK_DELAY_MS = 500;

/** Header values must be one line of printable text. */
function headerValue(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 1000);
}

/** A JetStream durable pull consumer: several processes on one durable share its messages. */
export class NatsBroker implements Broker<NatsMessage> {
  readonly label: string;
  private readonly consumerName = `${hostname()}-${process.pid}`;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private consumer: Consumer | undefined;

  constructor(private readonly spec: NatsStreamSpec, private readonly maxDeliver: number) {
    this.label = `nats:${spec.stream}/${spec.subject}`;
  }

  async connect(): Promise<void> {
    const s = this.spec;
    const nc = await connect({ servers: s.url, name: `infergate ${this.consumerName}`, maxReconnectAttempts: -1 });
    try {
      const jsm = await jetstreamManager(nc);
      try {
        await jsm.streams.info(s.stream);
      } catch (err) {
        if (!/not found/i.test((err as Error).message)) throw err;
        if (!s.create) throw new Error(`NATS stream '${s.stream}' does not exist: create it, or set create: true in the model's streams entry`);
        await jsm.streams.add({ name: s.stream, subjects: [s.subject] });
      }
      try {
        await jsm.consumers.info(s.stream, s.durable);
      } catch (err) {
        if (!/not found/i.test((err as Error).message)) throw err;
        await jsm.consumers.add(s.stream, {
          durable_name: s.durable,
          ack_policy: AckPolicy.Explicit,
          filter_subject: s.subject,
          max_ack_pending: s.max_in_flight,
          ack_wait: s.ack_wait_ms * 1_000_000,
          // One delivery past ours: a message that never completes (it crashes the process) is
          // dead-lettered on that last delivery without being run again.
          max_deliver: this.maxDeliver + 1,
        });
      }
      this.js = jetstream(nc);
      this.consumer = await this.js.consumers.get(s.stream, s.durable);
      this.nc = nc;
    } catch (err) {
      await nc.close().catch(() => {});
      throw err;
    }
  }

  async fetch(max: number, each: (m: NatsMessage) => void): Promise<void> {
    const it = await this.consumer!.fetch({ max_messages: max, expires: Math.max(1000, this.spec.block_ms) });
    for await (const msg of it) each({ id: String(msg.seq), data: msg.string(), deliveries: msg.info.deliveryCount, msg });
  }

  /** Publishes with the source message's stream and sequence as Nats-Msg-Id: JetStream drops a redelivery's repeat. */
  private async publish(subject: string, data: string, h: Record<string, string>, msgId: string): Promise<void> {
    const hdrs = headers();
    for (const [k, v] of Object.entries(h)) hdrs.set(k, headerValue(v));
    try {
      await this.js!.publish(subject, data, { msgID: msgId, headers: hdrs });
    } catch (err) {
      // No stream captures the subject: a plain NATS publish is all there is.
      if (!/no responders|503/i.test((err as Error).message)) throw err;
      this.nc!.publish(subject, data, { headers: hdrs });
      await this.nc!.flush();
    }
  }

  async complete(m: NatsMessage, resultId: string, json: string): Promise<void> {
    await this.publish(this.spec.result_subject, json, { 'Infergate-Result-Id': resultId, 'Infergate-Message-Id': m.id, 'Infergate-Consumer': this.consumerName }, `${this.spec.stream}:${m.id}:result`);
    await m.msg.ackAck();
  }

  async deadLetter(m: NatsMessage, error: string): Promise<void> {
    await this.publish(this.spec.dead_letter_subject, m.data, {
      'Infergate-Error': error, 'Infergate-Message-Id': m.id, 'Infergate-Deliveries': String(m.deliveries), 'Infergate-Consumer': this.consumerName,
    }, `${this.spec.stream}:${m.id}:dlq`);
    await m.msg.ackAck();
  }

  async retry(m: NatsMessage): Promise<void> {
    m.msg.nak(NAK_DELAY_MS);
  }

  async lag(): Promise<number | undefined> {
    const info = await this.consumer!.info(true);
    return info.num_pending + info.num_ack_pending;
  }

  async close(): Promise<void> {
    await this.nc?.close().catch(() => {});
    this.nc = undefined;
  }
}
