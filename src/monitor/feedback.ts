import type { Tensor } from '../protocol/types.js';
import type { PredictionLayout } from './profile.js';
import { copyNumbers } from './window.js';

/**
 * Predictions kept so that labels arriving later can be joined to them by request id:
 * a ring of rows (prediction, label, time), at most `capacity` rows and `maxAgeMs` old
 * (times from a monotonic clock, performance.now()).
 * Appending allocates nothing per row; the id index holds one number per request.
 */
export class PredictionLog {
  readonly predictions: Float64Array;
  readonly labels: Float64Array;
  private readonly times: Float64Array;
  /** Sequence number of the row in each slot (to tell a live slot from one overwritten since). */
  private readonly seqs: Float64Array;
  /** For the first row of a request: its id and row count. */
  private readonly ids: (string | undefined)[];
  private readonly rowCounts: Int32Array;
  private readonly byId = new Map<string, number>();
  private seq = 0;
  private readonly pw: number;

  constructor(
    readonly capacity: number,
    private readonly layout: PredictionLayout,
    private readonly maxAgeMs: number,
  ) {
    this.pw = layout.width;
    this.predictions = new Float64Array(capacity * this.pw);
    this.labels = new Float64Array(capacity).fill(NaN);
    this.times = new Float64Array(capacity);
    this.seqs = new Float64Array(capacity).fill(-1);
    this.ids = new Array<string | undefined>(capacity).fill(undefined);
    this.rowCounts = new Int32Array(capacity);
  }

  /** Records a request's predictions under its id (a request of more rows than the log holds keeps none). */
  append(id: string, prediction: Tensor, rows: number, now: number): void {
    if (rows > this.capacity || rows < 1) return;
    const start = this.seq;
    for (let r = 0; r < rows; r++) {
      const slot = this.seq % this.capacity;
      const old = this.ids[slot];
      if (old !== undefined && this.byId.get(old) === this.seqs[slot]) this.byId.delete(old);
      this.ids[slot] = r === 0 ? id : undefined;
      this.rowCounts[slot] = r === 0 ? rows : 0;
      this.seqs[slot] = this.seq;
      this.times[slot] = now;
      this.labels[slot] = NaN;
      copyNumbers(prediction.data, this.layout.readAs, r * this.pw, this.predictions, slot * this.pw, this.pw);
      this.seq++;
    }
    this.byId.set(id, start);
  }

  /** The rows a request id still has here (first sequence number and count), or undefined. */
  find(id: string, now: number): { seq: number; rows: number } | undefined {
    const seq = this.byId.get(id);
    if (seq === undefined) return undefined;
    const slot = seq % this.capacity;
    if (this.seqs[slot] !== seq) return undefined;
    const rows = this.rowCounts[slot];
    // Every row of the request must still be held, and none may be too old.
    if (this.seq - seq > this.capacity || now - this.times[slot] > this.maxAgeMs) return undefined;
    return { seq, rows };
  }

  /** Writes the labels of a request found by find(). */
  setLabels(at: { seq: number; rows: number }, labels: readonly number[]): void {
    for (let r = 0; r < at.rows; r++) this.labels[(at.seq + r) % this.capacity] = labels[r];
  }

  /** Calls f for every held, labelled row younger than the age limit. */
  forEachLabelled(now: number, f: (prediction: Float64Array, label: number) => void): void {
    const held = Math.min(this.seq, this.capacity);
    for (let k = 0; k < held; k++) {
      const slot = (this.seq - held + k) % this.capacity;
      const label = this.labels[slot];
      if (Number.isNaN(label) || now - this.times[slot] > this.maxAgeMs) continue;
      f(this.predictions.subarray(slot * this.pw, slot * this.pw + this.pw), label);
    }
  }

  clear(): void {
    this.byId.clear();
    this.seqs.fill(-1);
    this.labels.fill(NaN);
    this.ids.fill(undefined);
    this.seq = 0;
  }
}
