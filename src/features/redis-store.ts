import { createClient } from 'redis';
import { InferError, unavailable } from '../protocol/errors.js';
import type { OnlineStore, RowWrite, StoredRow, ViewLookup } from './online-store.js';
import type { FeatureValue } from './types.js';

/**
 * Writes one entity's row of one view unless the stored row is newer: KEYS[1] the entity's
 * hash, ARGV[1] the view's timestamp field, ARGV[2] the event time, then field/value pairs.
 */
const WRITE_IF_NEWER = `
local ts = redis.call('HGET', KEYS[1], ARGV[1])
if ts and tonumber(ts) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], unpack(ARGV, 3))
return 1`;

/** Rows per MULTI/EXEC when writing: each chunk is applied atomically. */
const WRITE_CHUNK = 500;

export interface RedisStoreOptions {
  url: string;
  project: string;
  keyPrefix: string;
  /** A command slower than this is the store being unavailable (default 1000 ms). */
  timeoutMs?: number;
}

/**
 * The Redis online store: one hash per entity key (as Feast's Redis store), fields
 * `<view>:<feature>` holding JSON values and `_ts:<view>` the event time in ms; reads are
 * one pipeline of HMGETs.
 */
export class RedisOnlineStore implements OnlineStore {
  readonly kind = 'redis';
  readonly describe: string;
  private readonly client;
  private readonly connecting: Promise<unknown>;
  private lastError = '';
  private readonly timeoutMs: number;

  constructor(private readonly opts: RedisStoreOptions) {
    this.describe = `redis (${redactUrl(opts.url)})`;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.client = createClient({
      url: opts.url,
      // Fail fast while disconnected (503 at once) and keep reconnecting in the background.
      disableOfflineQueue: true,
      socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) },
    });
    this.client.on('error', (err: Error) => {
      this.lastError = err.message || String(err);
    });
    this.connecting = this.client.connect().catch((err: Error) => {
      this.lastError = err.message;
    });
  }

  /** Waits up to `ms` for the first connection; false when Redis did not answer in time. */
  async connected(ms: number): Promise<boolean> {
    await Promise.race([this.connecting, new Promise((r) => setTimeout(r, ms).unref())]);
    return this.client.isReady;
  }

  private hashKey(joinKeys: readonly string[], entityKey: string): string {
    return `${this.opts.keyPrefix}${this.opts.project}:${joinKeys.join(',')}:${entityKey}`;
  }

  private get metaKey(): string {
    return `${this.opts.keyPrefix}${this.opts.project}:__materialized_until`;
  }

  async read(lookups: readonly ViewLookup[]): Promise<(StoredRow | undefined)[][]> {
    const multi = this.ready().multi();
    const fieldsOf = lookups.map((l) => hashFields(l.view, l.features));
    lookups.forEach((l, i) => {
      for (const k of l.entityKeys) multi.hmGet(this.hashKey(l.joinKeys, k), fieldsOf[i]);
    });
    const replies = (await this.run(() => multi.execAsPipeline())) as unknown as (string | null)[][];
    let at = 0;
    return lookups.map((l) =>
      l.entityKeys.map(() => {
        const reply = replies[at++];
        if (!Array.isArray(reply) || reply[0] === null || reply[0] === undefined) return undefined;
        const values: Record<string, FeatureValue> = {};
        for (let f = 0; f < l.features.length; f++) {
          const v = reply[f + 1];
          if (v !== null && v !== undefined) values[l.features[f]] = JSON.parse(v) as FeatureValue;
        }
        return { eventTs: Number(reply[0]), values };
      }),
    );
  }

  async write(view: string, joinKeys: readonly string[], rows: readonly RowWrite[]): Promise<number> {
    let changed = 0;
    for (let i = 0; i < rows.length; i += WRITE_CHUNK) {
      const multi = this.ready().multi();
      for (const r of rows.slice(i, i + WRITE_CHUNK)) {
        const args = [`_ts:${view}`, String(r.eventTs)];
        for (const [f, v] of Object.entries(r.values)) args.push(`${view}:${f}`, JSON.stringify(v));
        multi.eval(WRITE_IF_NEWER, { keys: [this.hashKey(joinKeys, r.entityKey)], arguments: args });
      }
      const replies = (await this.run(() => multi.exec())) as unknown as number[];
      for (const x of replies) changed += Number(x);
    }
    return changed;
  }

  async materializedUntil(view: string): Promise<number | undefined> {
    const v = await this.run(() => this.ready().hGet(this.metaKey, view));
    return v === null || v === undefined ? undefined : Number(v);
  }

  async setMaterializedUntil(view: string, endMs: number): Promise<void> {
    await this.run(() => this.ready().hSet(this.metaKey, view, String(endMs)));
  }

  async ping(): Promise<void> {
    await this.run(() => this.ready().ping());
  }

  async close(): Promise<void> {
    // While Redis is away the client is still reconnecting: stop it at once rather than wait.
    if (this.client.isReady) await this.client.close().catch(() => this.client.destroy());
    else if (this.client.isOpen) this.client.destroy();
    await this.connecting;
  }

  private ready() {
    if (!this.client.isReady) throw this.down(this.lastError || 'not connected');
    return this.client;
  }

  private down(reason: string): InferError {
    return unavailable(`online store ${this.describe} is unavailable: ${reason}`);
  }

  /** Runs a command with a time limit; any failure is the store being unavailable, named. */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(this.down(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
    } catch (err) {
      if (err instanceof InferError) throw err;
      throw this.down((err as Error).message);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A view's hash fields in read order (its event time, then each feature), made once per feature list and view. */
const fieldLists = new WeakMap<readonly string[], { view: string; fields: string[] }>();
function hashFields(view: string, features: readonly string[]): string[] {
  let f = fieldLists.get(features);
  if (f?.view !== view) fieldLists.set(features, (f = { view, fields: [`_ts:${view}`, ...features.map((x) => `${view}:${x}`)] }));
  return f.fields;
}

/** A URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
