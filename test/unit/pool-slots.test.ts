import { describe, expect, it } from 'vitest';
import { SlotScheduler, type SlotWaiter } from '../../src/core/slots.js';

// The scheduling of a pool of two workers, without starting any threads.
const pool = new SlotScheduler(2);

/** Like a batcher: when offered a slot it tries to take one. */
function waiter(expectedBatchNs: number) {
  const w = {
    expectedBatchNs,
    pumps: 0,
    pump: () => {
      w.pumps++;
      pool.tryAcquire(w);
    },
  };
  return w satisfies SlotWaiter;
}

describe('worker slots', () => {
  it('keeps the last worker for short batches while short work is active, and gives it to long work otherwise', () => {
    const fast = waiter(100_000);
    const slow = waiter(50_000_000);
    expect(pool.tryAcquire(fast)).toBe(true);
    pool.releaseSlot();
    // Short work was served just now: the slow model may use one worker, not the last one.
    expect(pool.tryAcquire(slow)).toBe(true);
    expect(pool.tryAcquire(slow)).toBe(false);
    expect(pool.free).toBe(1);
    // The short model still gets the reserved worker at once.
    expect(pool.tryAcquire(fast)).toBe(true);
    expect(pool.free).toBe(0);
    // A slot coming back is offered to the shortest waiter first.
    const other = waiter(500_000);
    expect(pool.tryAcquire(other)).toBe(false);
    pool.releaseSlot();
    expect(other.pumps).toBe(1);
    expect(slow.pumps).toBe(0);
    expect(pool.free).toBe(0);
    // One worker back: still reserved for the short models, so the slow one keeps waiting...
    pool.releaseSlot();
    expect(slow.pumps).toBe(1);
    expect(pool.free).toBe(1);
    // ...until both are back: then it runs on one of them.
    pool.releaseSlot();
    expect(slow.pumps).toBe(2);
    expect(pool.free).toBe(1);
    pool.releaseSlot();
    expect(pool.free).toBe(2);
  });
});
