import { hostname } from 'node:os';
import { createClient } from 'redis';
import type { Broker, BrokerMessage } from './broker.js';
import type { RedisStreamSpec } from './stream-config.js';

function newClient(url: string) {
  return createClient({ url, socket: { reconnectStrategy: (n: number) => Math.min(100 * 2 ** n, 2000) } });
}
type Client = ReturnType<typeof newClient>;

/**
 * Acknowledges an entry and adds its result in one atomic step, only when the acknowledgement
 * took (XACK returned 1): a result is written at most once per entry even when a slow consumer
 * and the one that claimed its entry both finish it. The result stream must live on the same
 * Redis (on a cluster, give both keys one hash tag).
 */
const ACK_AND_ADD = `
local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if n == 1 then redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3)) end
return n`;

/** A Redis Streams consumer group member. */
export class RedisBroker implements Broker {
  readonly label: string;
  readonly consumer: string;
  private client: Client | undefined;
  /** Blocking XREADGROUP holds its connection, so reads get one of their own. */
  private reader: Client | undefined;
  private claimCursor = '0-0';
  private lastClaimSweep = 0;

  constructor(private readonly spec: RedisStreamSpec, private readonly onError: (err: Error) => void) {
    this.label = `redis:${spec.stream}`;
    this.consumer = spec.consumer ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  }

  async connect(): Promise<void> {
    const client = newClient(this.spec.url);
    client.on('error', this.onError);
    await client.connect();
    const reader = newClient(this.spec.url);
    reader.on('error', this.onError);
    await reader.connect();
    this.client = client;
    this.reader = reader;
    try {
      await client.xGroupCreate(this.spec.stream, this.spec.group, '0', { MKSTREAM: true });
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  }

  async fetch(max: number, each: (m: BrokerMessage) => void): Promise<void> {
    const claimed = await this.claim(max);
    if (claimed.length) {
      claimed.forEach(each);
      return;
    }
    const res = await this.reader!.xReadGroup(this.spec.group, this.consumer, { key: this.spec.stream, id: '>' }, { COUNT: max, BLOCK: this.spec.block_ms });
    if (!res) return;
    for (const s of res as { messages: { id: string; message: Record<string, string> }[] }[]) {
      for (const m of s.messages) each({ id: m.id, data: m.message.data ?? '', deliveries: 1 });
    }
  }

  /**
   * Entries pending longer than claim_idle_ms (a dead consumer's, or ones that failed here and
   * wait for another try) are claimed with XAUTOCLAIM; their delivery counts come from XPENDING.
   */
  private async claim(max: number): Promise<BrokerMessage[]> {
    const now = Date.now();
    if (this.claimCursor === '0-0' && now - this.lastClaimSweep < Math.min(this.spec.claim_idle_ms / 2, 5000)) return [];
    if (this.claimCursor === '0-0') this.lastClaimSweep = now;
    const c = this.client!;
    const r = await c.xAutoClaim(this.spec.stream, this.spec.group, this.consumer, this.spec.claim_idle_ms, this.claimCursor, { COUNT: max });
    this.claimCursor = r.nextId;
    // Entries trimmed away while pending cannot be processed: acknowledge them.
    const gone = (r.deletedMessages ?? []) as string[];
    if (gone.length) await c.xAck(this.spec.stream, this.spec.group, gone);
    const msgs = r.messages.filter((m): m is { id: string; message: Record<string, string> } => m !== null);
    if (msgs.length === 0) return [];
    const pending = await c.xPendingRange(this.spec.stream, this.spec.group, msgs[0].id, msgs[msgs.length - 1].id, msgs.length * 2, { consumer: this.consumer });
    const counts = new Map(pending.map((p) => [p.id, p.deliveriesCounter]));
    return msgs.map((m) => ({ id: m.id, data: m.message.data ?? '', deliveries: counts.get(m.id) ?? 2 }));
  }

  async complete(m: BrokerMessage, resultId: string, json: string): Promise<void> {
    await this.client!.eval(ACK_AND_ADD, {
      keys: [this.spec.stream, this.spec.result_stream],
      arguments: [this.spec.group, m.id, 'data', json, 'id', resultId, 'message_id', m.id, 'consumer', this.consumer],
    });
  }

  async deadLetter(m: BrokerMessage, error: string): Promise<void> {
    await this.client!.eval(ACK_AND_ADD, {
      keys: [this.spec.stream, this.spec.dead_letter_stream],
      arguments: [this.spec.group, m.id, 'data', m.data, 'error', error, 'message_id', m.id, 'deliveries', String(m.deliveries), 'consumer', this.consumer],
    });
  }

  async retry(): Promise<void> {
    // Left pending: claimed again once idle for claim_idle_ms.
  }

  async lag(): Promise<number | undefined> {
    const groups = (await this.client!.xInfoGroups(this.spec.stream)) as unknown as { name: string; pending: number; lag?: number | null }[];
    const g = groups.find((x) => x.name === this.spec.group);
    if (!g) return undefined;
    return (typeof g.lag === 'number' ? g.lag : 0) + g.pending;
  }

  async close(): Promise<void> {
    for (const c of [this.reader, this.client]) {
      if (!c) continue;
      try {
        await c.close();
      } catch {
        c.destroy();
      }
    }
    this.client = this.reader = undefined;
  }
}
