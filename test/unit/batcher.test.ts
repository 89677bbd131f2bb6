import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../src/config/model-config.js';
import { ADAPTIVE_MAX_WAIT_US, DynamicBatcher, type QueuedRequest, adaptiveBoundUs } from '../../src/core/batcher.js';
import { Cancellation } from '../../src/core/cancellation.js';
import type { SlotSource, SlotWaiter } from '../../src/core/slots.js';

/** Slot accounting only: the batcher's contract with the pool, without worker threads. */
function slots(n: number): SlotSource {
  let busy = 0;
  const waiting = new Set<SlotWaiter>();
  return {
    tryAcquire(w: SlotWaiter) {
      if (busy < n) return ++busy > 0;
      waiting.add(w);
      return false;
    },
    releaseSlot() {
      busy--;
      for (const w of waiting) {
        waiting.delete(w);
        w.pump();
      }
    },
  };
}

function batcher(yaml: string, maxBatchSize: number, pool = slots(1)) {
  const batches: QueuedRequest<string>[][] = [];
  let release: (() => void)[] = [];
  const b = new DynamicBatcher<string, string>({
    maxBatchSize,
    batching: parseModelConfig(yaml, 'm').dynamic_batching,
    maxInFlight: 1,
    slots: pool,
    execute: (batch) => {
      batches.push(batch);
      // Each request's result is its own payload, upper-cased: results travel as values.
      return new Promise<string[]>((r) => release.push(() => r(batch.map((e) => e.payload.toUpperCase()))));
    },
  });
  const finishAll = async () => {
    while (release.length) {
      const r = release;
      release = [];
      r.forEach((f) => f());
      await new Promise((x) => setTimeout(x, 0));
    }
  };
  return { b, batches, finishAll };
}

describe('DynamicBatcher', () => {
  it('runs a lone request at once, then batches what queued meanwhile up to max_batch_size', async () => {
    const { b, batches, finishAll } = batcher('', 4);
    const done = [b.enqueue('a', 1, 'k'), b.enqueue('b', 2, 'k'), b.enqueue('c', 2, 'k'), b.enqueue('d', 1, 'k'), b.enqueue('e', 3, 'k')];
    expect(batches.map((x) => x.map((e) => e.payload))).toEqual([['a']]);
    await finishAll();
    expect(await Promise.all(done)).toEqual(['A', 'B', 'C', 'D', 'E']);
    // b(2)+c(2) fill 4; d(1)+e(3) fill the next.
    expect(batches.map((x) => x.map((e) => e.payload))).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
  });

  it('only batches requests whose shape keys agree', async () => {
    const { b, batches, finishAll } = batcher('', 8);
    const done = ['x', 'y1', 'z1', 'y2', 'z2'].map((p) => b.enqueue(p, 1, p[0]));
    await finishAll();
    await Promise.all(done);
    expect(batches.map((x) => x.map((e) => e.payload))).toEqual([['x'], ['y1', 'y2'], ['z1', 'z2']]);
  });

  it('runs each request alone when the model does not batch', async () => {
    const { b, batches, finishAll } = batcher('', 0);
    const done = ['a', 'b', 'c'].map((p) => b.enqueue(p, 1, 'k'));
    await finishAll();
    await Promise.all(done);
    expect(batches.map((x) => x.length)).toEqual([1, 1, 1]);
  });

  it('rejects a request larger than max_batch_size and a full queue', async () => {
    const { b, finishAll } = batcher('dynamic_batching: {default_queue_policy: {max_queue_size: 1}}', 4);
    expect(() => b.enqueue('big', 5, 'k')).toThrow(/batch-size 5 must be <= max_batch_size 4/);
    const first = b.enqueue('a', 1, 'k');
    const second = b.enqueue('b', 1, 'k');
    expect(() => b.enqueue('c', 1, 'k')).toThrow('Exceeds maximum queue size');
    await finishAll();
    await Promise.all([first, second]);
  });

  it('removes a cancelled request from the queue without running it', async () => {
    const { b, batches, finishAll } = batcher('', 4);
    const first = b.enqueue('a', 1, 'k');
    const cancel = new Cancellation();
    const second = b.enqueue('b', 1, 'k', { cancel });
    cancel.cancel();
    await expect(second).rejects.toThrow(/cancelled/);
    await finishAll();
    await first;
    expect(batches.flat().map((e) => e.payload)).toEqual(['a']);
    expect(b.depth).toEqual({ queued: 0, inFlight: 0 });
  });

  it('cuts a batch back to a preferred size', async () => {
    const { b, batches, finishAll } = batcher('dynamic_batching: {preferred_batch_size: [2]}', 8);
    const done = ['a', 'b', 'c', 'd'].map((p) => b.enqueue(p, 1, 'k'));
    await finishAll();
    await Promise.all(done);
    expect(batches.map((x) => x.length)).toEqual([1, 2, 1]);
  });

  it('never holds a lone request back after a burst has passed (adaptive wait)', async () => {
    const { b, batches, finishAll } = batcher('', 8);
    const burst = ['a', 'b', 'c', 'd'].map((p) => b.enqueue(p, 1, 'k'));
    await finishAll();
    await Promise.all(burst);
    expect(batches.map((x) => x.length)).toEqual([1, 3]);
    await new Promise((r) => setTimeout(r, 10));
    const lone = b.enqueue('e', 1, 'k');
    // Dispatched synchronously inside enqueue: no timer, no wait for the last batch's 3 rows.
    expect(batches.map((x) => x.length)).toEqual([1, 3, 1]);
    await finishAll();
    await lone;
  });

  it("stretches the adaptive hold for a version that takes a share of its model's traffic, at most twice", () => {
    const cap = ADAPTIVE_MAX_WAIT_US;
    // 20 rows at one per ms would take 40 ms: the cap bounds the hold.
    expect(adaptiveBoundUs(20, 1e6)).toBe(cap);
    expect(adaptiveBoundUs(20, 1e6, 1)).toBe(cap);
    // A rollout's arm at 50% sees half the returning wave: twice the time for the same batch.
    expect(adaptiveBoundUs(20, 1e6, 0.5)).toBe(2 * cap);
    expect(adaptiveBoundUs(20, 1e6, 0.8)).toBeCloseTo(cap / 0.8);
    // A small arm never holds longer than twice the cap.
    expect(adaptiveBoundUs(20, 1e6, 0.05)).toBe(2 * cap);
    // When the wave itself arrives sooner (4 rows, 100 us apart), that is the bound, shared or not.
    expect(adaptiveBoundUs(4, 100_000, 0.5)).toBe(800);
    expect(adaptiveBoundUs(4, 100_000)).toBe(800);
  });

  it('treats a timeout longer than a timer can hold as "wait", not "expire at once"', async () => {
    const { b, batches, finishAll } = batcher('', 4);
    const first = b.enqueue('a', 1, 'k');
    const second = b.enqueue('b', 1, 'k', { timeoutUs: 1e15 });
    await new Promise((r) => setTimeout(r, 20));
    await finishAll();
    await Promise.all([first, second]);
    expect(batches.flat().map((e) => e.payload)).toEqual(['a', 'b']);
  });
});
