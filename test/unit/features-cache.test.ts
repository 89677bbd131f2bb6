import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CachedOnlineStore } from '../../src/features/cached-store.js';
import { FeatureMetrics } from '../../src/features/metrics.js';
import type { OnlineStore, ViewLookup } from '../../src/features/online-store.js';
import { SqliteOnlineStore } from '../../src/features/sqlite-store.js';

const look = (keys: string[], view = 'v'): ViewLookup => ({ view, features: ['x'], joinKeys: ['id'], entityKeys: keys });

/** A real (in-memory SQLite) store, a cache in front, and a second writer that bypasses the cache. */
function setup(maxEntries: number, ttlSeconds: number, viewTtl = 0) {
  const store = new SqliteOnlineStore(':memory:', 'c');
  const metrics = new FeatureMetrics(new Registry());
  const cached = new CachedOnlineStore(store, { maxEntries, ttlSeconds }, metrics, () => viewTtl);
  return { store, cached, metrics };
}
const counter = async (c: { get(): Promise<{ values: { value: number }[] }> }) => (await c.get()).values[0]?.value ?? 0;

describe('the online store cache', () => {
  it('serves repeated reads from memory (unknown keys too) and counts hits and misses', async () => {
    const { store, cached, metrics } = setup(100, 60);
    await store.write('v', ['id'], [{ entityKey: 'a', eventTs: 1, values: { x: 1 } }]);
    expect((await cached.read([look(['a', 'nobody'])]))[0].map((r) => r?.values.x)).toEqual([1, undefined]);
    // Written behind the cache's back: the cache still answers what it holds.
    await store.write('v', ['id'], [{ entityKey: 'a', eventTs: 2, values: { x: 2 } }, { entityKey: 'nobody', eventTs: 2, values: { x: 9 } }]);
    expect((await cached.read([look(['a', 'nobody'])]))[0].map((r) => r?.values.x)).toEqual([1, undefined]);
    expect(await counter(metrics.cacheHits)).toBe(2);
    expect(await counter(metrics.cacheMisses)).toBe(2);
  });

  it("drops keys this process writes through it, so the next read sees the write", async () => {
    const { cached } = setup(100, 60);
    await cached.write('v', ['id'], [{ entityKey: 'a', eventTs: 1, values: { x: 1 } }]);
    expect((await cached.read([look(['a'])]))[0][0]?.values.x).toBe(1);
    await cached.write('v', ['id'], [{ entityKey: 'a', eventTs: 5, values: { x: 5 } }]);
    expect((await cached.read([look(['a'])]))[0][0]?.values.x).toBe(5);
  });

  it('is bounded by entries: the least recently used row goes first', async () => {
    const { store, cached } = setup(2, 60);
    await store.write('v', ['id'], ['a', 'b', 'c'].map((k) => ({ entityKey: k, eventTs: 1, values: { x: 1 } })));
    await cached.read([look(['a', 'b'])]);
    await cached.read([look(['a'])]); // a is now the most recent
    await cached.read([look(['c'])]); // evicts b
    await store.write('v', ['id'], ['a', 'b', 'c'].map((k) => ({ entityKey: k, eventTs: 2, values: { x: 2 } })));
    const [rows] = await cached.read([look(['a', 'b', 'c'])]);
    expect(rows.map((r) => r?.values.x)).toEqual([1, 2, 1]);
  });

  it("is bounded in time: an entry lives no longer than the cache's ttl nor the view's", async () => {
    for (const [cacheTtl, viewTtl] of [[0.05, 0], [60, 0.05]]) {
      const { store, cached } = setup(100, cacheTtl, viewTtl);
      await store.write('v', ['id'], [{ entityKey: 'a', eventTs: 1, values: { x: 1 } }]);
      await cached.read([look(['a'])]);
      await store.write('v', ['id'], [{ entityKey: 'a', eventTs: 2, values: { x: 2 } }]);
      expect((await cached.read([look(['a'])]))[0][0]?.values.x).toBe(1);
      await new Promise((r) => setTimeout(r, 80));
      expect((await cached.read([look(['a'])]))[0][0]?.values.x, `cache ttl ${cacheTtl}s, view ttl ${viewTtl}s`).toBe(2);
    }
  });

  it('a read that raced a write does not put the older row back into the cache', async () => {
    const store = new SqliteOnlineStore(':memory:', 'c');
    // The real store, with its read answer held back until the write is done (a slow network read).
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: OnlineStore = Object.assign(Object.create(store) as OnlineStore, {
      read: async (l: readonly ViewLookup[]) => {
        const rows = await store.read(l);
        await gate;
        return rows;
      },
    });
    const cached = new CachedOnlineStore(slow, { maxEntries: 100, ttlSeconds: 60 }, new FeatureMetrics(new Registry()), () => 0);
    await store.write('v', ['id'], [{ entityKey: 'a', eventTs: 1, values: { x: 1 } }]);
    const reading = cached.read([look(['a'])]);
    await cached.write('v', ['id'], [{ entityKey: 'a', eventTs: 2, values: { x: 2 } }]);
    release();
    expect((await reading)[0][0]?.values.x).toBe(1);
    expect((await cached.read([look(['a'])]))[0][0]?.values.x).toBe(2);
  });

  it('max_entries 0 turns it off: every read goes to the store', async () => {
    const { store, cached, metrics } = setup(0, 60);
    await store.write('v', ['id'], [{ entityKey: 'a', eventTs: 1, values: { x: 1 } }]);
    await cached.read([look(['a'])]);
    await store.write('v', ['id'], [{ entityKey: 'a', eventTs: 2, values: { x: 2 } }]);
    expect((await cached.read([look(['a'])]))[0][0]?.values.x).toBe(2);
    expect(await counter(metrics.cacheHits)).toBe(0);
  });
});
