import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../src/config/model-config.js';
import type { VersionView } from '../../src/core/pipeline.js';
import { parseMonitoringConfig } from '../../src/monitor/config.js';
import { buildProfile } from '../../src/monitor/profile.js';
import { SkewChecker, type SkewViolation } from '../../src/monitor/skew.js';
import type { TensorMetadata } from '../../src/protocol/types.js';

/** A model folder with a reference.csv, seen as a loaded version with these inputs and outputs. */
function version(csv: string, inputs: TensorMetadata[], outputs: TensorMetadata[] = [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }]): VersionView {
  const dir = mkdtempSync(join(tmpdir(), 'monitor-config-'));
  writeFileSync(join(dir, 'reference.csv'), csv);
  return { name: 'm', version: '1', dir, inputs, outputs, maxBatchSize: 64, config: parseModelConfig(undefined, 'm') };
}

const churnInputs: TensorMetadata[] = [
  { name: 'plan', datatype: 'BYTES', shape: [-1, 1] },
  { name: 'usage', datatype: 'FP32', shape: [-1, 3] },
];
const churnCsv = 'id,plan,usage_1,usage_2,usage_3\nc1,basic,1.5,2,0.1\nc2,pro,2.25,0,3\nc3,,NaN,1,inf\n';

/** Parses a monitoring block and builds its profile; returns the error message or the profile. */
function load(block: unknown, v: VersionView) {
  return buildProfile(v, parseMonitoringConfig(block));
}
const errorOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
};

describe('monitoring block: defaults and errors that name the key', () => {
  it('has a default for every key but reference', () => {
    const c = parseMonitoringConfig({ reference: 'reference.csv' });
    expect(c).toMatchObject({
      windowSize: 1000, sampleRate: 1, driftShare: 0.5, skew: 'count', skewMargin: 0.1, checkIntervalSeconds: 30,
      prediction: { output: undefined, task: 'classification' }, feedback: { maxRows: 10000, maxAgeSeconds: 86400 }, webhook: undefined, columns: undefined,
    });
    expect(errorOf(() => parseMonitoringConfig({}))).toMatch(/^monitoring\.reference: required/);
    expect(errorOf(() => parseMonitoringConfig('x'))).toMatch(/^monitoring: must be a mapping/);
  });

  it('rejects bad values naming the key', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ window: 3 }, /^monitoring: unknown key 'window'/],
      [{ window_size: 0 }, /^monitoring\.window_size: must be an integer >= 1/],
      [{ window_size: 10_000_000 }, /^monitoring\.window_size: at most 100000/],
      [{ sample_rate: 1.5 }, /^monitoring\.sample_rate: must be a number >= 0 and <= 1/],
      [{ drift_share: 0 }, /^monitoring\.drift_share: must be a number > 0/],
      [{ skew: 'loud' }, /^monitoring\.skew: must be one of off, count, warn, reject/],
      [{ prediction: { task: 'ranking' } }, /^monitoring\.prediction\.task: must be one of classification, regression/],
      [{ prediction: { outputs: 'x' } }, /^monitoring\.prediction: unknown key 'outputs'/],
      [{ per_column: { a: { stattest: 'anderson' } } }, /^monitoring\.per_column\.a\.stattest: must be one of ks, chisquare, z, wasserstein, jensenshannon, psi/],
      [{ per_column: { a: { threshold: 'low' } } }, /^monitoring\.per_column\.a\.threshold: must be a number/],
      [{ webhook: 'ftp://x' }, /^monitoring\.webhook: must be an http:\/\/ or https:\/\/ URL/],
      [{ webhook: 'not a url' }, /^monitoring\.webhook: 'not a url' is not a URL/],
      [{ webhook: { url: 'http://x', retries: -1 } }, /^monitoring\.webhook\.retries: must be an integer >= 0/],
      [{ webhook: { url: 'http://x', timeout_seconds: 0 } }, /^monitoring\.webhook\.timeout_seconds: must be a number > 0/],
      [{ columns: { features: [] } }, /^monitoring\.columns\.features: must be a non-empty list/],
      [{ columns: { features: ['a', 3] } }, /^monitoring\.columns\.features\[1\]: must be a non-empty string/],
      [{ feedback: { max_rows: 0 } }, /^monitoring\.feedback\.max_rows: must be an integer >= 1/],
      [{ check_interval_seconds: -1 }, /^monitoring\.check_interval_seconds: must be a number >= 0/],
    ];
    for (const [extra, re] of bad) expect(errorOf(() => parseMonitoringConfig({ reference: 'r.csv', ...extra })), JSON.stringify(extra)).toMatch(re);
  });

  it('fails on a missing file, a column not in the CSV, or the wrong number of columns for an input', () => {
    const v = version(churnCsv, churnInputs);
    expect(errorOf(() => load({ reference: 'other.csv' }, v))).toMatch(/^monitoring\.reference: file 'other\.csv' not found/);
    expect(errorOf(() => load({ reference: 'reference.csv', columns: { usage: ['usage_1', 'usage_2', 'usage_9'] } }, v)))
      .toMatch(/^monitoring\.columns\.usage\[2\]: column 'usage_9' is not in reference\.csv \(its columns: id, plan, usage_1, usage_2, usage_3\)/);
    expect(errorOf(() => load({ reference: 'reference.csv', columns: { usage: ['usage_1', 'usage_2'] } }, v)))
      .toMatch(/^monitoring\.columns\.usage: lists 2 columns, but input 'usage' has 3 values per row \(shape \[-1,3\]\)/);
    expect(errorOf(() => load({ reference: 'reference.csv', columns: { price: ['usage_1'] } }, v)))
      .toMatch(/^monitoring\.columns\.price: the model has no input 'price' \(its inputs: plan, usage\)/);
    expect(errorOf(() => load({ reference: 'reference.csv', columns: { plan: ['plan'], usage: ['usage_1', 'usage_1', 'usage_2'] } }, v)))
      .toMatch(/^monitoring\.columns\.usage\[1\]: column 'usage_1' is already used/);
    const renamed = version('plan,u1,u2,u3\nbasic,1,2,3\n', churnInputs);
    expect(errorOf(() => load({ reference: 'reference.csv' }, renamed)))
      .toMatch(/^monitoring\.columns: not given, so input 'usage' needs columns usage_1 \.\. usage_3 in reference\.csv, which lacks usage_1, usage_2, usage_3; list its 3 column names under monitoring\.columns\.usage/);
  });

  it('fails on overrides that do not fit the column, and on prediction outputs that cannot be scored', () => {
    const v = version(churnCsv, churnInputs);
    expect(errorOf(() => load({ reference: 'reference.csv', per_column: { plan: { stattest: 'ks' } } }, v)))
      .toMatch(/^monitoring\.per_column\.plan\.stattest: 'ks' does not apply to a categorical column \(it takes numerical\)/);
    expect(errorOf(() => load({ reference: 'reference.csv', per_column: { usage_7: { stattest: 'psi' } } }, v)))
      .toMatch(/^monitoring\.per_column\.usage_7: 'usage_7' is not a monitored column/);
    expect(errorOf(() => load({ reference: 'reference.csv', prediction: { output: 'score' } }, v)))
      .toMatch(/^monitoring\.prediction\.output: the model has no output 'score' \(its outputs: probabilities\)/);
    expect(errorOf(() => load({ reference: 'reference.csv', prediction: { output: 'probabilities', task: 'regression' } }, v)))
      .toMatch(/^monitoring\.prediction\.output: output 'probabilities' \(FP32 \[-1,2\]\) cannot be a regression prediction/);
    const dynamic = version(churnCsv, [{ name: 'tokens', datatype: 'INT64', shape: [-1, -1] }]);
    expect(errorOf(() => load({ reference: 'reference.csv' }, dynamic))).toMatch(/^monitoring\.columns: not given, and input 'tokens' \(shape \[-1,-1\]\) has a dynamic last dimension/);
  });

  it('reads the reference by default column names, at the input precision, NaN and infinities dropped', () => {
    const p = load({ reference: 'reference.csv', per_column: { usage_2: { stattest: 'psi', threshold: 0.2 } } }, version(churnCsv, churnInputs));
    expect(p.rows).toBe(3);
    expect(p.features.map((f) => [f.name, f.kind, f.input.name, f.position])).toEqual([
      ['plan', 'categorical', 'plan', 0], ['usage_1', 'numerical', 'usage', 0], ['usage_2', 'numerical', 'usage', 1], ['usage_3', 'numerical', 'usage', 2],
    ]);
    expect(p.features[0].reference).toEqual(['basic', 'pro']);
    expect(Array.from(p.features[1].reference as Float64Array)).toEqual([1.5, 2.25]);
    expect(Array.from(p.features[3].reference as Float64Array)).toEqual([0.1, 3].map(Math.fround));
    expect(p.features[2].override).toEqual({ stattest: 'psi', threshold: 0.2 });
    expect([p.numericWidth, p.stringWidth]).toEqual([3, 1]);
    expect(p.prediction).toMatchObject({ output: 'probabilities', width: 2, task: 'classification' });
  });

  it('integer inputs: categorical with 5 or fewer distinct reference values, values must be integers', () => {
    const ints: TensorMetadata[] = [{ name: 'x', datatype: 'INT32', shape: [-1, 2] }];
    const p = load({ reference: 'reference.csv' }, version('x_1,x_2\n1,10\n2,20\n3,30\n1,40\n2,50\n3,60\n', ints));
    expect(p.features.map((f) => f.kind)).toEqual(['categorical', 'numerical']);
    expect(errorOf(() => load({ reference: 'reference.csv' }, version('x_1,x_2\n1,2.5\n', ints))))
      .toMatch(/^monitoring\.reference: reference\.csv row 1, column 'x_2': '2\.5' is not a INT32 value/);
    expect(errorOf(() => load({ reference: 'reference.csv' }, version('x_1,x_2\n1,"2\n', ints)))).toMatch(/^monitoring\.reference: 'reference\.csv' is not a valid CSV: line 2: a quoted cell is not closed/);
    expect(errorOf(() => load({ reference: 'reference.csv' }, version('x_1,x_2\n1\n', ints)))).toMatch(/line 2: 1 cells where the header has 2/);
    expect(errorOf(() => load({ reference: 'reference.csv' }, version('x_1,x_2\nNA,1\n', ints)))).toMatch(/column 'x_1' of reference\.csv has no values/);
  });

  it('the raw block travels through config.yaml parsing untouched', () => {
    const cfg = parseModelConfig('monitoring:\n  reference: ref.csv\n  window_size: 50\n', 'm');
    expect(parseMonitoringConfig(cfg.extensions.monitoring).windowSize).toBe(50);
  });
});

describe('skew checker', () => {
  it('widens [min, max] by the margin; flags beyond it, NaN as missing, unseen categories', () => {
    const p = load({ reference: 'reference.csv', columns: { x: ['a', 'b'] } }, version('a,b\n0,10\n10,20\n', [{ name: 'x', datatype: 'FP64', shape: [-1, 2] }]));
    const sk = new SkewChecker(p, 0.1);
    const t = (rows: number[][]) => [{ name: 'x', datatype: 'FP64' as const, shape: [rows.length, 2], data: Float64Array.from(rows.flat()) }];
    expect(sk.check(t([[-1, 9], [11, 21]]), 2)).toBe(0);
    const found: SkewViolation[] = [];
    expect(sk.check(t([[-1.01, 15], [5, NaN], [5, Infinity]]), 3, found)).toBe(3);
    expect(found.map((v) => [v.feature.name, v.kind, v.row])).toEqual([['a', 'out_of_range', 0], ['b', 'missing', 1], ['b', 'out_of_range', 2]]);
    expect(sk.describe(found[0])).toBe("input 'x' row 0 feature 'a': value -1.01 is out of range [-1, 11] (the reference's [0, 10] widened by 10%)");
    expect(Array.from(sk.counts)).toEqual([1, 0, 0, 1, 0, 1]);
    const c = load({ reference: 'reference.csv' }, version(churnCsv, churnInputs));
    const cs = new SkewChecker(c, 0);
    const got: SkewViolation[] = [];
    cs.check([{ name: 'plan', datatype: 'BYTES', shape: [2, 1], data: ['pro', 'gold'] }, { name: 'usage', datatype: 'FP32', shape: [2, 3], data: Float32Array.from([2, 1, 0.1, 2, 1, 0.1]) }], 2, got);
    expect(got.map((v) => [v.feature.name, v.kind, v.row, v.value])).toEqual([['plan', 'unseen_category', 1, 'gold']]);
  });
});
