import { LRUCache } from 'lru-cache';
import type { FeatureMetrics } from './metrics.js';
import type { OnlineStore, RowWrite, StoredRow, ViewLookup } from './online-store.js';
import type { CacheConfig } from './types.js';

/** Marks a key the store did not hold (cached too, so unknown ids do not reach the store each time). */
const ABSENT = Symbol('absent');
type Entry = StoredRow | typeof ABSENT;

/**
 * An LRU cache in front of an online store: bounded by entries and by time (the cache's ttl,
 * never longer than the view's), invalidated by every write made through it.
 */
export class CachedOnlineStore {
  private readonly cache: LRUCache<string, Entry> | undefined;
  /** Bumped by each write: a read that started before a write does not fill the cache. */
  private generation = 0;
  private readonly cacheTtlMs: number;

  constructor(
    readonly store: OnlineStore,
    config: CacheConfig,
    private readonly metrics: FeatureMetrics,
    /** The view's ttl in seconds (0 = none), bounding how long its entries live. */
    private readonly viewTtl: (view: string) => number,
  ) {
    if (config.maxEntries > 0 && config.ttlSeconds > 0) {
      this.cache = new LRUCache<string, Entry>({ max: config.maxEntries, ttl: config.ttlSeconds * 1000, ttlAutopurge: false });
    }
    this.cacheTtlMs = config.ttlSeconds * 1000;
  }

  /** Whether rows are kept in memory (a cached row is then the same object at every hit). */
  get enabled(): boolean {
    return this.cache !== undefined;
  }

  /** Reads every lookup, the cached rows from memory and the rest in one batched store read. */
  async read(lookups: readonly ViewLookup[]): Promise<(StoredRow | undefined)[][]> {
    if (!this.cache) return this.timed(lookups);
    const out: (StoredRow | undefined)[][] = [];
    const missing: { li: number; lookup: ViewLookup; at: number[] }[] = [];
    let hits = 0;
    let misses = 0;
    for (let li = 0; li < lookups.length; li++) {
      const l = lookups[li];
      const rows = new Array<StoredRow | undefined>(l.entityKeys.length);
      const at: number[] = [];
      for (let i = 0; i < l.entityKeys.length; i++) {
        const e = this.cache.get(cacheKey(l.view, l.entityKeys[i]));
        if (e === undefined) at.push(i);
        else rows[i] = e === ABSENT ? undefined : e;
      }
      hits += l.entityKeys.length - at.length;
      misses += at.length;
      out.push(rows);
      if (at.length) missing.push({ li, lookup: { ...l, entityKeys: at.map((i) => l.entityKeys[i]) }, at });
    }
    if (hits) this.metrics.cacheHits.inc(hits);
    if (misses) this.metrics.cacheMisses.inc(misses);
    if (missing.length === 0) return out;
    const gen = this.generation;
    const fetched = await this.timed(missing.map((m) => m.lookup));
    const fill = gen === this.generation;
    missing.forEach((m, j) => {
      m.at.forEach((i, k) => {
        const row = fetched[j][k];
        out[m.li][i] = row;
        if (fill) this.remember(m.lookup.view, m.lookup.entityKeys[k], row);
      });
    });
    return out;
  }

  private remember(view: string, key: string, row: StoredRow | undefined): void {
    const viewTtl = this.viewTtl(view) * 1000;
    const ttl = viewTtl > 0 ? Math.min(viewTtl, this.cacheTtlMs) : this.cacheTtlMs;
    this.cache!.set(cacheKey(view, key), row ?? ABSENT, { ttl });
  }

  private async timed(lookups: readonly ViewLookup[]): Promise<(StoredRow | undefined)[][]> {
    const end = this.metrics.lookupDuration.startTimer({ store: this.store.kind });
    try {
      return await this.store.read(lookups);
    } catch (err) {
      this.metrics.storeErrors.inc({ store: this.store.kind });
      throw err;
    } finally {
      end();
    }
  }

  /** Writes through to the store and drops the written keys from the cache. */
  async write(view: string, joinKeys: readonly string[], rows: readonly RowWrite[]): Promise<number> {
    this.generation++;
    try {
      return await this.store.write(view, joinKeys, rows);
    } catch (err) {
      this.metrics.storeErrors.inc({ store: this.store.kind });
      throw err;
    } finally {
      if (this.cache) for (const r of rows) this.cache.delete(cacheKey(view, r.entityKey));
      this.generation++;
    }
  }
}

function cacheKey(view: string, entityKey: string): string {
  return `${view}\u0000${entityKey}`;
}
