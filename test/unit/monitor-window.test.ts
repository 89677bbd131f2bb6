import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/monitor/csv.js';
import { PredictionLog } from '../../src/monitor/feedback.js';
import { classificationMetrics, regressionMetrics, rocAuc } from '../../src/monitor/performance.js';
import type { ReferenceProfile } from '../../src/monitor/profile.js';
import { histogram } from '../../src/monitor/report-html.js';
import { LiveWindow, Sampler } from '../../src/monitor/window.js';
import { bf16ToNumber, halfToNumber, toDatatype } from '../../src/monitor/values.js';
import type { Tensor } from '../../src/protocol/types.js';

/** A profile with one FP32 input of width 2 and one BYTES input, and a 2-class prediction. */
const profile = {
  file: 'r.csv', rows: 0, features: [], numericWidth: 2, stringWidth: 1,
  inputs: [
    { name: 'x', index: 0, datatype: 'FP32', width: 2, readAs: 'number', offset: 0 },
    { name: 's', index: 1, datatype: 'BYTES', width: 1, readAs: 'bytes', offset: 0 },
  ],
  prediction: { output: 'p', index: 0, width: 2, task: 'classification', readAs: 'number' },
} as unknown as ReferenceProfile;

const x = (rows: number[][]): Tensor => ({ name: 'x', datatype: 'FP32', shape: [rows.length, 2], data: Float32Array.from(rows.flat()) });
const s = (v: string[]): Tensor => ({ name: 's', datatype: 'BYTES', shape: [v.length, 1], data: v });
const p = (rows: number[][]): Tensor => ({ name: 'p', datatype: 'FP32', shape: [rows.length, 2], data: Float32Array.from(rows.flat()) });

describe('live window', () => {
  it('keeps the most recent rows in a ring and gives columns back cleaned and sorted', () => {
    const w = new LiveWindow(3, profile);
    w.write([x([[1, 10], [NaN, 20]]), s(['a', ''])], p([[0.9, 0.1], [0.2, 0.8]]), 0, 2);
    expect(w.size).toBe(2);
    expect(Array.from(w.numericColumn(0))).toEqual([1]);
    w.write([x([[3, 30], [4, 40]]), s(['b', 'c'])], undefined, 0, 2);
    expect(w.size).toBe(3);
    // Row 1 (1, 10, 'a') was overwritten.
    expect(Array.from(w.numericColumn(1))).toEqual([20, 30, 40]);
    expect(w.stringColumn(0, (v) => v === '').sort()).toEqual(['b', 'c']);
    // Rows written without the prediction output hold NaN there.
    expect(Number.isNaN(w.predictionAt(0)[0])).toBe(true);
    expect(Array.from(w.predictionAt(1))).toEqual([Math.fround(0.2), Math.fround(0.8)]);
    const before = w.changes;
    w.reset();
    expect(w.size).toBe(0);
    expect(w.changes).toBeGreaterThan(before);
  });

  it('a sample rate takes that share of requests, evenly', () => {
    const sm = new Sampler(0.25);
    const taken = Array.from({ length: 100 }, () => sm.take()).filter(Boolean).length;
    expect(taken).toBe(25);
    expect(Array.from({ length: 10 }, () => new Sampler(0).take()).some(Boolean)).toBe(false);
  });
});

describe('prediction log', () => {
  const layout = profile.prediction!;
  it('finds a request by id while all its rows are held and young enough', () => {
    const log = new PredictionLog(5, layout, 1000);
    log.append('a', p([[0.9, 0.1], [0.4, 0.6]]), 2, 0);
    log.append('b', p([[0.3, 0.7]]), 1, 0);
    expect(log.find('a', 10)).toEqual({ seq: 0, rows: 2 });
    expect(log.find('a', 2000)).toBeUndefined();
    log.setLabels(log.find('a', 10)!, [0, 1]);
    const seen: [number[], number][] = [];
    log.forEachLabelled(10, (pred, label) => seen.push([Array.from(pred), label]));
    expect(seen).toEqual([[[0.9, 0.1].map(Math.fround), 0], [[0.4, 0.6].map(Math.fround), 1]]);
    // Three more rows push out a's first row: a can no longer be labelled.
    log.append('c', p([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]), 3, 0);
    expect(log.find('a', 10)).toBeUndefined();
    expect(log.find('b', 10)).toEqual({ seq: 2, rows: 1 });
    // The same id again: the newest request wins.
    log.append('b', p([[0.1, 0.9]]), 1, 0);
    expect(log.find('b', 10)).toEqual({ seq: 6, rows: 1 });
    log.clear();
    expect(log.find('c', 10)).toBeUndefined();
  });
});

describe('performance metrics', () => {
  const row = (p1: number, label: number) => ({ p: Float64Array.from([1 - p1, p1]), label });
  it('ROC AUC counts ties half (Mann-Whitney)', () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [false, true, false, true])).toBe(0.5);
    expect(rocAuc([0.2, 0.3], [true, true])).toBeNull();
  });
  it('binary: accuracy, precision and recall for class 1, and the confidence estimate', () => {
    const m = classificationMetrics([row(0.9, 1), row(0.8, 0), row(0.3, 1), row(0.1, 0)], { sum: 3.2, rows: 4 });
    expect(m).toMatchObject({ labelled_rows: 4, accuracy: 0.5, precision: 0.5, recall: 0.5, roc_auc: 0.75, estimated_accuracy: 0.8 });
    const one = classificationMetrics([{ p: Float64Array.from([0.7]), label: 1 }, { p: Float64Array.from([0.2]), label: 1 }], { sum: 0, rows: 0 });
    expect(one).toMatchObject({ accuracy: 0.5, precision: 1, recall: 0.5, estimated_accuracy: null });
  });
  it('more classes: macro averages over the classes seen', () => {
    const r = (ps: number[], label: number) => ({ p: Float64Array.from(ps), label });
    const m = classificationMetrics([r([0.7, 0.2, 0.1], 0), r([0.1, 0.8, 0.1], 1), r([0.2, 0.2, 0.6], 1), r([0.1, 0.1, 0.8], 2)], { sum: 0, rows: 0 });
    expect(m.accuracy).toBe(0.75);
    expect(m.precision).toBeCloseTo((1 + 1 + 0.5) / 3, 12);
    expect(m.recall).toBeCloseTo((1 + 0.5 + 1) / 3, 12);
  });
  it('regression: errors and r2', () => {
    const m = regressionMetrics([{ p: Float64Array.from([2]), label: 1 }, { p: Float64Array.from([2]), label: 3 }]);
    expect(m).toMatchObject({ labelled_rows: 2, mean_error: 0, mean_absolute_error: 1, mean_squared_error: 1, root_mean_squared_error: 1, r2: 0 });
  });
});

describe('values and CSV', () => {
  it('converts to the input precision and decodes 16-bit floats', () => {
    expect(toDatatype(0.1, 'FP32')).toBe(Math.fround(0.1));
    expect(toDatatype(0.1, 'FP16')).toBe(halfToNumber(0x2e66));
    expect(toDatatype(65520, 'FP16')).toBe(Infinity);
    expect(toDatatype(1 + 2 ** -9, 'BF16')).toBe(1);
    expect(bf16ToNumber(0x3f80)).toBe(1);
    expect(toDatatype(3, 'INT8')).toBe(3);
    expect(toDatatype(300, 'INT8')).toBeUndefined();
    expect(toDatatype(1.5, 'INT32')).toBeUndefined();
  });
  it('parses quotes, doubled quotes, CRLF and a BOM', () => {
    expect(parseCsv('\ufeffa,b\r\n"x, y","say ""hi"""\r\n\r\n1,2')).toEqual({ header: ['a', 'b'], rows: [['x, y', 'say "hi"'], ['1', '2']] });
    expect(() => parseCsv('a,a\n1,2')).toThrow(/names column 'a' twice/);
  });
  it('histograms share buckets between reference and live', () => {
    const h = histogram(Float64Array.from([0, 1, 2, 3]), Float64Array.from([3, 3]), 'numerical');
    expect(h.labels).toHaveLength(20);
    expect(h.reference.reduce((a, b) => a + b)).toBeCloseTo(1, 12);
    expect(h.live[19]).toBe(1);
    const c = histogram(['a', 'a', 'b'], ['c'], 'categorical');
    expect(c).toEqual({ labels: ['a', 'b', 'c'], reference: [2 / 3, 1 / 3, 0], live: [0, 0, 1] });
  });
});
