import { describe, expect, it } from 'vitest';
import { BackgroundShare } from '../../src/jobs/background-share.js';

/**
 * A model version simulated step by step: `slots` workers, a FIFO queue, batches of up to 64
 * rows (a background request is 64 rows, so it runs alone), each batch taking one step. The
 * job always wants to send more; `clients` interactive clients each keep one 1-row request
 * queued or running. Counts, per step where both kinds wait, the batches each kind gets.
 */
async function simulate(slots: number, clients: number, steps: number, share = 0.5) {
  type Req = { kind: 'job' | 'live'; rows: number; done: () => void };
  const queue: Req[] = [];
  let running: Req[][] = [];
  const gate = new BackgroundShare(() => ({ depth: { queued: queue.length, inFlight: running.length }, slots }), share);
  const batches = { job: 0, live: 0 };
  let contendedSteps = 0;
  let contendedJobBatches = 0;
  let contendedJobMax = 0;
  let liveStarved = 0;
  let jobInFlightMax = 0;
  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  const sendJob = async () => {
    for (;;) {
      await gate.acquire();
      await new Promise<void>((done) => queue.push({ kind: 'job', rows: 64, done }));
      gate.release();
    }
  };
  const sendLive = async () => {
    for (;;) await new Promise<void>((done) => queue.push({ kind: 'live', rows: 1, done }));
  };
  // The job reads ahead: several chunks wait for the gate at once, as the runner's window does.
  for (let w = 0; w < 8; w++) void sendJob();
  for (let c = 0; c < clients; c++) void sendLive();
  for (let t = 0; t < steps; t++) {
    await flush();
    for (const b of running) b.forEach((r) => r.done());
    running = [];
    await flush();
    const liveWaiting = queue.some((r) => r.kind === 'live');
    const jobWaiting = queue.some((r) => r.kind === 'job') || gate.inFlight > 0;
    let jobNow = 0;
    let liveNow = 0;
    while (running.length < slots && queue.length) {
      const head = queue[0];
      const batch: Req[] = [];
      let rows = 0;
      for (const r of [...queue]) {
        if (rows + r.rows > 64 || (batch.length && (r.kind === 'job') !== (head.kind === 'job'))) continue;
        batch.push(r);
        rows += r.rows;
        queue.splice(queue.indexOf(r), 1);
      }
      running.push(batch);
      const kind = batch[0].kind;
      batches[kind]++;
      if (kind === 'job') jobNow++;
      else liveNow++;
    }
    // The first steps are the job's requests sent before interactive ones arrived: they drain, then the share holds.
    if (liveWaiting && jobWaiting && t >= 5) {
      contendedSteps++;
      contendedJobBatches += jobNow;
      contendedJobMax = Math.max(contendedJobMax, jobNow);
      if (liveNow === 0) liveStarved++;
    }
    jobInFlightMax = Math.max(jobInFlightMax, running.filter((b) => b[0].kind === 'job').length);
  }
  return { batches, contendedSteps, contendedJobBatches, contendedJobMax, liveStarved, jobInFlightMax, stats: gate.stats };
}

describe('background share', () => {
  it('uses every worker when no interactive request waits', async () => {
    const r = await simulate(2, 0, 200);
    expect(r.batches.live).toBe(0);
    // Two slots, one step per batch: the job runs two batches nearly every step.
    expect(r.batches.job).toBeGreaterThanOrEqual(2 * 200 * 0.95);
    expect(r.jobInFlightMax).toBe(2);
  });

  it('keeps the job to half the workers while interactive requests wait (2 and 4 workers), and still progresses', async () => {
    for (const slots of [2, 4]) {
      const r = await simulate(slots, 8, 300);
      expect(r.contendedSteps).toBeGreaterThan(250);
      // At most its share of the workers in any step where both wait; interactive batches run in every such step.
      expect(r.contendedJobMax).toBeLessThanOrEqual(slots / 2);
      expect(r.liveStarved).toBe(0);
      expect(r.contendedJobBatches).toBeGreaterThan(r.contendedSteps * 0.8);
      expect(r.stats.maxOutstandingWhileInteractive).toBeLessThanOrEqual(slots / 2);
    }
  });

  it('follows a smaller share (one worker in four), never less than one request', async () => {
    const r = await simulate(4, 8, 300, 0.25);
    expect(r.contendedJobMax).toBe(1);
    expect(r.liveStarved).toBe(0);
    const one = await simulate(2, 8, 300, 0.1);
    expect(one.contendedJobMax).toBe(1);
    expect(one.contendedJobBatches).toBeGreaterThan(0);
  });

  it('refuses a share outside (0, 1]', () => {
    expect(() => new BackgroundShare(() => ({ depth: { queued: 0, inFlight: 0 }, slots: 1 }), 0)).toThrow(/> 0 and <= 1/);
    expect(() => new BackgroundShare(() => ({ depth: { queued: 0, inFlight: 0 }, slots: 1 }), 1.5)).toThrow();
  });
});
